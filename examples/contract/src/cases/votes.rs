//! `POST /vote`.

use serde_json::{Value, json};

use crate::client::{Resp, UNKNOWN_ID, User, int};
use crate::util::unique_marker;
use crate::{CaseResult, Ctx};

/// Asserts a 201 `{"message": <string>}`.
fn expect_message(resp: &Resp) -> CaseResult {
    let body = resp.expect(201)?;
    ensure!(
        body.get("message").is_some_and(Value::is_string),
        "POST /vote: expected {{\"message\": <string>}}, got {body}"
    );
    Ok(())
}

/// A fresh user and a fresh published post of theirs.
async fn user_and_post(ctx: &Ctx) -> Result<(User, i64), String> {
    let user = ctx.new_user().await?;
    let post = ctx
        .create_post(&user, &format!("votable {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    Ok((user, id))
}

pub(crate) async fn vote_returns_201_and_counts_one(ctx: Ctx) -> CaseResult {
    let (owner, id) = user_and_post(&ctx).await?;
    let voter = ctx.new_user().await?;
    expect_message(&ctx.vote(&voter.token, id, 1).await?)?;
    ensure_eq!(
        ctx.votes_of(&voter.token, id).await?,
        1,
        "votes seen by the voter"
    );
    ensure_eq!(
        ctx.votes_of(&owner.token, id).await?,
        1,
        "votes seen by the owner"
    );
    Ok(())
}

pub(crate) async fn second_vote_is_409(ctx: Ctx) -> CaseResult {
    let (_owner, id) = user_and_post(&ctx).await?;
    let voter = ctx.new_user().await?;
    expect_message(&ctx.vote(&voter.token, id, 1).await?)?;
    ctx.vote(&voter.token, id, 1)
        .await?
        .expect_error(409, "VOTE_EXISTS")?;
    ensure_eq!(
        ctx.votes_of(&voter.token, id).await?,
        1,
        "votes after a repeated vote"
    );
    Ok(())
}

pub(crate) async fn removing_vote_returns_201_and_resets_count(ctx: Ctx) -> CaseResult {
    let (_owner, id) = user_and_post(&ctx).await?;
    let voter = ctx.new_user().await?;
    expect_message(&ctx.vote(&voter.token, id, 1).await?)?;
    expect_message(&ctx.vote(&voter.token, id, 0).await?)?;
    ensure_eq!(
        ctx.votes_of(&voter.token, id).await?,
        0,
        "votes after removal"
    );
    // Voting again after removal works.
    expect_message(&ctx.vote(&voter.token, id, 1).await?)?;
    ensure_eq!(
        ctx.votes_of(&voter.token, id).await?,
        1,
        "votes after re-voting"
    );
    Ok(())
}

pub(crate) async fn removing_absent_vote_is_404(ctx: Ctx) -> CaseResult {
    let (_owner, id) = user_and_post(&ctx).await?;
    let voter = ctx.new_user().await?;
    ctx.vote(&voter.token, id, 0)
        .await?
        .expect_error(404, "VOTE_NOT_FOUND")?;
    expect_message(&ctx.vote(&voter.token, id, 1).await?)?;
    expect_message(&ctx.vote(&voter.token, id, 0).await?)?;
    ctx.vote(&voter.token, id, 0)
        .await?
        .expect_detail(404)
        .map_err(|e| format!("second removal: {e}"))?;
    Ok(())
}

pub(crate) async fn vote_on_unknown_post_is_404(ctx: Ctx) -> CaseResult {
    let voter = ctx.new_user().await?;
    ctx.vote(&voter.token, UNKNOWN_ID, 1)
        .await?
        .expect_detail(404)?;
    ctx.vote(&voter.token, UNKNOWN_ID, 0)
        .await?
        .expect_detail(404)
        .map(|_| ())
}

pub(crate) async fn vote_on_other_users_unpublished_post_is_404(ctx: Ctx) -> CaseResult {
    let owner = ctx.new_user().await?;
    let voter = ctx.new_user().await?;
    let draft = ctx
        .create_post(&owner, &format!("draft {}", unique_marker()), false)
        .await?;
    let id = int(&draft, "id")?;
    ctx.vote(&voter.token, id, 1)
        .await?
        .expect_error(404, "POST_NOT_FOUND")?;
    ensure_eq!(
        ctx.votes_of(&owner.token, id).await?,
        0,
        "votes of the draft"
    );
    Ok(())
}

pub(crate) async fn vote_with_invalid_dir_is_422(ctx: Ctx) -> CaseResult {
    let (user, id) = user_and_post(&ctx).await?;
    for dir in [json!(2), json!(-1), json!(1.5), json!(null)] {
        ctx.post_json(
            "/vote",
            Some(&user.token),
            json!({"post_id": id, "dir": dir}),
        )
        .await?
        .expect_422(&["body", "dir"])
        .map_err(|e| format!("dir {dir}: {e}"))?;
    }
    ctx.post_json("/vote", Some(&user.token), json!({"post_id": id}))
        .await?
        .expect_422(&["body", "dir"])
        .map_err(|e| format!("missing dir: {e}"))?;
    ensure_eq!(
        ctx.votes_of(&user.token, id).await?,
        0,
        "votes after invalid votes"
    );
    Ok(())
}

pub(crate) async fn vote_with_missing_or_invalid_post_id_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    for body in [
        json!({"dir": 1}),
        json!({"post_id": "abc", "dir": 1}),
        json!({"post_id": null, "dir": 1}),
    ] {
        ctx.post_json("/vote", Some(&user.token), body.clone())
            .await?
            .expect_422(&["body", "post_id"])
            .map_err(|e| format!("body {body}: {e}"))?;
    }
    Ok(())
}

pub(crate) async fn votes_from_two_users_count_two(ctx: Ctx) -> CaseResult {
    let owner = ctx.new_user().await?;
    let marker = unique_marker();
    let post = ctx
        .create_post(&owner, &format!("popular {marker}"), true)
        .await?;
    let id = int(&post, "id")?;
    let first = ctx.new_user().await?;
    let second = ctx.new_user().await?;
    expect_message(&ctx.vote(&first.token, id, 1).await?)?;
    expect_message(&ctx.vote(&second.token, id, 1).await?)?;
    ensure_eq!(
        ctx.votes_of(&owner.token, id).await?,
        2,
        "votes in GET /posts/{{id}}"
    );
    let list = ctx.search(&first.token, &marker).await?;
    ensure_eq!(list.len(), 1, "posts found by the marker");
    ensure_eq!(list[0]["votes"], json!(2), "votes in GET /posts");
    expect_message(&ctx.vote(&first.token, id, 0).await?)?;
    ensure_eq!(
        ctx.votes_of(&owner.token, id).await?,
        1,
        "votes after one removal"
    );
    Ok(())
}

pub(crate) async fn user_may_vote_on_own_post(ctx: Ctx) -> CaseResult {
    let (owner, id) = user_and_post(&ctx).await?;
    expect_message(&ctx.vote(&owner.token, id, 1).await?)?;
    ensure_eq!(
        ctx.votes_of(&owner.token, id).await?,
        1,
        "votes after voting on own post"
    );
    Ok(())
}

pub(crate) async fn concurrent_identical_votes_yield_one_201(ctx: Ctx) -> CaseResult {
    let (_owner, id) = user_and_post(&ctx).await?;
    let voter = ctx.new_user().await?;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let ctx = ctx.clone();
        let token = voter.token.clone();
        tasks.push(tokio::spawn(async move {
            ctx.vote(&token, id, 1).await.map(|resp| resp.status())
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    let mut others = Vec::new();
    for task in tasks {
        match task
            .await
            .map_err(|e| format!("request task failed: {e}"))??
        {
            201 => created += 1,
            409 => conflicts += 1,
            other => others.push(other),
        }
    }
    ensure!(
        created == 1 && conflicts == 49 && others.is_empty(),
        "expected one 201 and 49 409; got {created} x 201, {conflicts} x 409, others {others:?}"
    );
    ensure_eq!(
        ctx.votes_of(&voter.token, id).await?,
        1,
        "votes after the burst"
    );
    Ok(())
}
