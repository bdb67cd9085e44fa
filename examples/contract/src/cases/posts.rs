//! `/posts` routes: create, list/search/page, get, update, delete, and the
//! visibility of unpublished posts.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Body, UNKNOWN_ID, User, check_post, check_post_out, check_user, ids, int};
use crate::util::unique_marker;
use crate::{CaseResult, Ctx};

/// Creates `n` published posts titled `<marker> #<i>` (oldest first) and
/// returns their ids in creation order.
async fn create_posts(ctx: &Ctx, user: &User, marker: &str, n: usize) -> Result<Vec<i64>, String> {
    let mut created = Vec::with_capacity(n);
    for i in 0..n {
        let post = ctx
            .create_post(user, &format!("{marker} #{i}"), true)
            .await?;
        created.push(int(&post, "id")?);
    }
    Ok(created)
}

/// POSTs `body` to /posts as `user` and asserts a 422 at `loc`.
async fn create_is_422(ctx: &Ctx, user: &User, body: Value, loc: &[&str]) -> CaseResult {
    ctx.post_json("/posts", Some(&user.token), body.clone())
        .await?
        .expect_422(loc)
        .map_err(|e| format!("body {body}: {e}"))
}

pub(crate) async fn create_post_returns_201_post_with_owner(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let title = format!("hello {}", unique_marker());
    let post = ctx
        .post_json(
            "/posts",
            Some(&user.token),
            json!({"title": title, "content": "some content", "published": true}),
        )
        .await?
        .expect(201)?;
    check_post(&post)?;
    ensure_eq!(post["title"], json!(title), "title");
    ensure_eq!(post["content"], json!("some content"), "content");
    ensure_eq!(post["published"], json!(true), "published");
    ensure_eq!(int(&post, "owner_id")?, user.id, "owner_id");
    ensure_eq!(check_user(&post["owner"])?, user.id, "owner.id");
    ensure_eq!(post["owner"]["email"], json!(user.email), "owner.email");
    Ok(())
}

pub(crate) async fn create_post_defaults_published_to_true(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let post = ctx
        .post_json(
            "/posts",
            Some(&user.token),
            json!({"title": format!("default {}", unique_marker()), "content": "c"}),
        )
        .await?
        .expect(201)?;
    check_post(&post)?;
    ensure_eq!(post["published"], json!(true), "published when omitted");
    let unpublished = ctx
        .create_post(&user, &format!("explicit {}", unique_marker()), false)
        .await?;
    ensure_eq!(unpublished["published"], json!(false), "published: false");
    Ok(())
}

pub(crate) async fn create_post_ignores_owner_id_in_body(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let other = ctx.new_user().await?;
    let post = ctx
        .post_json(
            "/posts",
            Some(&user.token),
            json!({
                "title": format!("owner {}", unique_marker()),
                "content": "c",
                "published": true,
                "owner_id": other.id,
                "id": UNKNOWN_ID,
                "votes": 100,
            }),
        )
        .await?
        .expect(201)?;
    check_post(&post)?;
    ensure_eq!(int(&post, "owner_id")?, user.id, "owner_id");
    ensure!(
        int(&post, "id")? != UNKNOWN_ID,
        "the post id was taken from the request: {post}"
    );
    let id = int(&post, "id")?;
    ensure_eq!(
        ctx.votes_of(&user.token, id).await?,
        0,
        "votes of a new post"
    );
    Ok(())
}

pub(crate) async fn create_post_with_empty_or_blank_fields_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    for blank in ["", "   ", "\t\n "] {
        create_is_422(
            &ctx,
            &user,
            json!({"title": blank, "content": "c", "published": true}),
            &["body", "title"],
        )
        .await?;
        create_is_422(
            &ctx,
            &user,
            json!({"title": "t", "content": blank, "published": true}),
            &["body", "content"],
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn create_post_title_length_limit_is_300_chars(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    // 300 characters (600 bytes) are fine: the limit counts characters.
    let title = "é".repeat(300);
    let post = ctx.create_post(&user, &title, true).await?;
    ensure_eq!(post["title"], json!(title), "300-char title");
    create_is_422(
        &ctx,
        &user,
        json!({"title": "t".repeat(301), "content": "c", "published": true}),
        &["body", "title"],
    )
    .await
}

pub(crate) async fn create_post_content_length_limit_is_10000_chars(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let content = "é".repeat(10_000);
    let post = ctx
        .post_json(
            "/posts",
            Some(&user.token),
            json!({"title": format!("long {}", unique_marker()), "content": content}),
        )
        .await?
        .expect(201)?;
    check_post(&post)?;
    ensure!(
        post["content"] == json!(content),
        "the 10000-char content came back different"
    );
    create_is_422(
        &ctx,
        &user,
        json!({"title": "t", "content": "c".repeat(10_001), "published": true}),
        &["body", "content"],
    )
    .await
}

pub(crate) async fn create_post_with_wrong_types_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    create_is_422(
        &ctx,
        &user,
        json!({"title": 5, "content": "c", "published": true}),
        &["body", "title"],
    )
    .await?;
    create_is_422(
        &ctx,
        &user,
        json!({"title": "t", "content": ["c"], "published": true}),
        &["body", "content"],
    )
    .await?;
    create_is_422(
        &ctx,
        &user,
        json!({"title": "t", "content": "c", "published": "yes"}),
        &["body", "published"],
    )
    .await
}

pub(crate) async fn create_post_with_missing_fields_or_bad_json_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    create_is_422(&ctx, &user, json!({"content": "c"}), &["body", "title"]).await?;
    create_is_422(&ctx, &user, json!({"title": "t"}), &["body", "content"]).await?;
    create_is_422(&ctx, &user, json!({}), &["body"]).await?;
    let auth = format!("Bearer {}", user.token);
    ctx.send(
        Method::POST,
        "/posts",
        Some(&auth),
        Body::Raw("application/json", b"{\"title\": \"t\", ".to_vec()),
    )
    .await?
    .expect_422(&["body"])
    .map_err(|e| format!("malformed JSON: {e}"))?;
    ctx.send(
        Method::POST,
        "/posts",
        Some(&auth),
        Body::Raw(
            "text/plain",
            json!({"title": "t", "content": "c"})
                .to_string()
                .into_bytes(),
        ),
    )
    .await?
    .expect_422(&["body"])
    .map_err(|e| format!("text/plain body: {e}"))?;
    Ok(())
}

pub(crate) async fn create_post_with_oversized_body_is_413(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let body = json!({"title": "big", "content": "x".repeat(100 * 1024), "published": true});
    ctx.post_json("/posts", Some(&user.token), body)
        .await?
        .expect_error(413, "PAYLOAD_TOO_LARGE")
        .map(|_| ())
}

pub(crate) async fn list_posts_returns_post_out_newest_first(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let created = create_posts(&ctx, &user, &marker, 3).await?;
    let list = ctx.search(&user.token, &marker).await?;
    let mut expected = created.clone();
    expected.reverse();
    ensure_eq!(ids(&list), expected, "ids of GET /posts?search=<marker>");
    for out in &list {
        ensure_eq!(out["votes"], json!(0), "votes of a new post in the list");
        ensure_eq!(
            out["Post"]["owner_id"],
            json!(user.id),
            "owner_id in the list"
        );
    }
    // Without limit, the same order.
    let list = ctx
        .list_posts(&user.token, &format!("search={marker}"))
        .await?;
    ensure_eq!(ids(&list), expected, "ids with the default limit");
    Ok(())
}

pub(crate) async fn list_posts_shows_published_posts_of_other_users(ctx: Ctx) -> CaseResult {
    let alice = ctx.new_user().await?;
    let bob = ctx.new_user().await?;
    let marker = unique_marker();
    let a = ctx
        .create_post(&alice, &format!("{marker} alice"), true)
        .await?;
    let b = ctx
        .create_post(&bob, &format!("{marker} bob"), true)
        .await?;
    let expected = vec![int(&b, "id")?, int(&a, "id")?];
    for viewer in [&alice, &bob] {
        let list = ctx.search(&viewer.token, &marker).await?;
        ensure_eq!(ids(&list), expected, "ids seen by user {}", viewer.id);
    }
    let from_bob = ctx.get_post(&bob.token, int(&a, "id")?).await?;
    ensure_eq!(
        from_bob["Post"]["owner_id"],
        json!(alice.id),
        "owner_id of alice's post fetched by bob"
    );
    Ok(())
}

pub(crate) async fn list_posts_search_is_case_insensitive_substring(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let upper = ctx
        .create_post(
            &user,
            &format!("Shouting {} here", marker.to_uppercase()),
            true,
        )
        .await?;
    let lower = ctx
        .create_post(&user, &format!("whisper{marker}suffix"), true)
        .await?;
    let other_marker = unique_marker();
    ctx.create_post(&user, &format!("unrelated {other_marker}"), true)
        .await?;
    let expected = vec![int(&lower, "id")?, int(&upper, "id")?];

    let list = ctx.search(&user.token, &marker).await?;
    ensure_eq!(ids(&list), expected, "search with the lowercase marker");
    let list = ctx.search(&user.token, &marker.to_uppercase()).await?;
    ensure_eq!(ids(&list), expected, "search with the uppercase marker");
    // A substring from the middle of the marker, still unique enough.
    let middle = &marker[2..14];
    let list = ctx.search(&user.token, middle).await?;
    ensure_eq!(
        ids(&list),
        expected,
        "search with a substring of the marker"
    );
    // A longer phrase spanning title text.
    let list = ctx
        .search(&user.token, &format!("whisper{marker}suf"))
        .await?;
    ensure_eq!(ids(&list), vec![int(&lower, "id")?], "search with a phrase");
    Ok(())
}

pub(crate) async fn list_posts_pages_with_limit_and_skip(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let created = create_posts(&ctx, &user, &marker, 5).await?;
    let newest_first: Vec<i64> = created.iter().rev().copied().collect();
    for (limit, skip) in [(2, 0), (2, 2), (2, 4), (2, 5), (3, 1), (100, 0), (1, 0)] {
        let list = ctx
            .list_posts(
                &user.token,
                &format!("search={marker}&limit={limit}&skip={skip}"),
            )
            .await?;
        let expected: Vec<i64> = newest_first
            .iter()
            .skip(skip)
            .take(limit)
            .copied()
            .collect();
        ensure_eq!(ids(&list), expected, "ids with limit={limit}&skip={skip}");
    }
    Ok(())
}

pub(crate) async fn list_posts_pages_by_keyset_with_after(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let created = create_posts(&ctx, &user, &marker, 5).await?;
    let newest_first: Vec<i64> = created.iter().rev().copied().collect();
    // Walk the pages by passing the last id of each page as `after`.
    let mut after: Option<i64> = None;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let query = match after {
            Some(id) => format!("search={marker}&limit=2&after={id}"),
            None => format!("search={marker}&limit=2"),
        };
        let page = ids(&ctx.list_posts(&user.token, &query).await?);
        after = page.last().copied();
        seen.extend(page);
    }
    ensure_eq!(seen, newest_first, "keyset pages in order");
    ctx.get("/posts?after=abc", Some(&user.token))
        .await?
        .expect_422(&["query", "after"])?;
    Ok(())
}

pub(crate) async fn list_posts_default_limit_is_10(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let created = create_posts(&ctx, &user, &marker, 11).await?;
    let newest_first: Vec<i64> = created.iter().rev().copied().collect();
    let list = ctx
        .list_posts(&user.token, &format!("search={marker}"))
        .await?;
    ensure_eq!(ids(&list), newest_first[..10].to_vec(), "default page");
    let list = ctx
        .list_posts(&user.token, &format!("search={marker}&skip=10"))
        .await?;
    ensure_eq!(
        ids(&list),
        newest_first[10..].to_vec(),
        "second default page"
    );
    // No query at all: still a list of at most 10.
    let list = ctx.list_posts(&user.token, "").await?;
    ensure!(list.len() <= 10, "GET /posts returned {} items", list.len());
    Ok(())
}

pub(crate) async fn list_posts_with_invalid_limit_or_skip_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    for (query, loc) in [
        ("limit=0", ["query", "limit"]),
        ("limit=101", ["query", "limit"]),
        ("limit=-1", ["query", "limit"]),
        ("limit=abc", ["query", "limit"]),
        ("skip=-1", ["query", "skip"]),
        ("skip=abc", ["query", "skip"]),
    ] {
        ctx.get(&format!("/posts?{query}"), Some(&user.token))
            .await?
            .expect_422(&loc)
            .map_err(|e| format!("{query}: {e}"))?;
    }
    // The bounds themselves are fine.
    ctx.list_posts(&user.token, "limit=1").await?;
    ctx.list_posts(&user.token, "limit=100&skip=0").await?;
    Ok(())
}

pub(crate) async fn get_post_returns_post_out(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let post = ctx
        .create_post(&user, &format!("get {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    let out = ctx.get_post(&user.token, id).await?;
    ensure_eq!(check_post_out(&out)?, id, "GET /posts/{{id}} id");
    ensure_eq!(out["Post"], post, "GET /posts/{{id}} Post");
    ensure_eq!(out["votes"], json!(0), "votes");
    Ok(())
}

pub(crate) async fn get_unknown_post_is_404(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    ctx.get(&format!("/posts/{UNKNOWN_ID}"), Some(&user.token))
        .await?
        .expect_error(404, "POST_NOT_FOUND")
        .map(|_| ())
}

pub(crate) async fn get_post_with_non_integer_id_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    ctx.get("/posts/abc", Some(&user.token))
        .await?
        .expect_422(&["path", "id"])
}

pub(crate) async fn update_post_by_owner_returns_200_updated_post(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let post = ctx
        .create_post(&user, &format!("before {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    let title = format!("after {}", unique_marker());
    let updated = ctx
        .put_json(
            &format!("/posts/{id}"),
            Some(&user.token),
            json!({"title": title, "content": "new content", "published": false}),
        )
        .await?
        .expect(200)?;
    ensure_eq!(check_post(&updated)?, id, "updated id");
    ensure_eq!(updated["title"], json!(title), "updated title");
    ensure_eq!(updated["content"], json!("new content"), "updated content");
    ensure_eq!(updated["published"], json!(false), "updated published");
    ensure_eq!(updated["owner_id"], json!(user.id), "updated owner_id");
    ensure_eq!(
        updated["created_at"],
        post["created_at"],
        "created_at after update"
    );
    let out = ctx.get_post(&user.token, id).await?;
    ensure_eq!(out["Post"], updated, "GET after PUT");
    Ok(())
}

pub(crate) async fn update_post_with_invalid_body_is_422(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let post = ctx
        .create_post(&user, &format!("valid {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    let path = format!("/posts/{id}");
    for (body, loc) in [
        (json!({"title": "", "content": "c"}), ["body", "title"]),
        (json!({"title": "t", "content": "  "}), ["body", "content"]),
        (
            json!({"title": "t".repeat(301), "content": "c"}),
            ["body", "title"],
        ),
        (
            json!({"title": "t", "content": "c", "published": "yes"}),
            ["body", "published"],
        ),
        (json!({"content": "c"}), ["body", "title"]),
    ] {
        ctx.put_json(&path, Some(&user.token), body.clone())
            .await?
            .expect_422(&loc)
            .map_err(|e| format!("body {body}: {e}"))?;
    }
    let out = ctx.get_post(&user.token, id).await?;
    ensure_eq!(out["Post"], post, "post after rejected updates");
    Ok(())
}

pub(crate) async fn update_post_by_non_owner_is_403_and_leaves_it_unchanged(
    ctx: Ctx,
) -> CaseResult {
    let owner = ctx.new_user().await?;
    let intruder = ctx.new_user().await?;
    let post = ctx
        .create_post(&owner, &format!("mine {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    ctx.put_json(
        &format!("/posts/{id}"),
        Some(&intruder.token),
        json!({"title": "hijacked", "content": "hijacked", "published": true}),
    )
    .await?
    .expect_error(403, "NOT_OWNER")?;
    let out = ctx.get_post(&owner.token, id).await?;
    ensure_eq!(out["Post"], post, "post after a forbidden update");
    Ok(())
}

pub(crate) async fn update_unknown_post_is_404(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    ctx.put_json(
        &format!("/posts/{UNKNOWN_ID}"),
        Some(&user.token),
        json!({"title": "t", "content": "c", "published": true}),
    )
    .await?
    .expect_detail(404)
    .map(|_| ())
}

pub(crate) async fn delete_post_returns_204_then_404(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let post = ctx
        .create_post(&user, &format!("doomed {marker}"), true)
        .await?;
    let id = int(&post, "id")?;
    ctx.delete(&format!("/posts/{id}"), Some(&user.token))
        .await?
        .expect(204)?;
    ctx.get(&format!("/posts/{id}"), Some(&user.token))
        .await?
        .expect_detail(404)?;
    let list = ctx.search(&user.token, &marker).await?;
    ensure!(list.is_empty(), "deleted post still listed: {list:?}");
    ctx.delete(&format!("/posts/{id}"), Some(&user.token))
        .await?
        .expect_detail(404)
        .map_err(|e| format!("second delete: {e}"))?;
    Ok(())
}

pub(crate) async fn delete_post_by_non_owner_is_403_and_keeps_it(ctx: Ctx) -> CaseResult {
    let owner = ctx.new_user().await?;
    let intruder = ctx.new_user().await?;
    let post = ctx
        .create_post(&owner, &format!("keep {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    ctx.delete(&format!("/posts/{id}"), Some(&intruder.token))
        .await?
        .expect_detail(403)?;
    let out = ctx.get_post(&owner.token, id).await?;
    ensure_eq!(out["Post"], post, "post after a forbidden delete");
    Ok(())
}

pub(crate) async fn delete_unknown_post_is_404(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    ctx.delete(&format!("/posts/{UNKNOWN_ID}"), Some(&user.token))
        .await?
        .expect_detail(404)
        .map(|_| ())
}

pub(crate) async fn delete_post_with_votes_succeeds(ctx: Ctx) -> CaseResult {
    let owner = ctx.new_user().await?;
    let voter = ctx.new_user().await?;
    let post = ctx
        .create_post(&owner, &format!("voted {}", unique_marker()), true)
        .await?;
    let id = int(&post, "id")?;
    ctx.vote(&voter.token, id, 1).await?.expect(201)?;
    ctx.vote(&owner.token, id, 1).await?.expect(201)?;
    ctx.delete(&format!("/posts/{id}"), Some(&owner.token))
        .await?
        .expect(204)?;
    ctx.get(&format!("/posts/{id}"), Some(&voter.token))
        .await?
        .expect_detail(404)?;
    ctx.vote(&voter.token, id, 0)
        .await?
        .expect_detail(404)
        .map_err(|e| format!("removing a vote of a deleted post: {e}"))?;
    Ok(())
}

pub(crate) async fn unpublished_post_is_visible_to_its_owner(ctx: Ctx) -> CaseResult {
    let owner = ctx.new_user().await?;
    let marker = unique_marker();
    let post = ctx
        .create_post(&owner, &format!("draft {marker}"), false)
        .await?;
    let id = int(&post, "id")?;
    let out = ctx.get_post(&owner.token, id).await?;
    ensure_eq!(
        out["Post"]["published"],
        json!(false),
        "published of the draft"
    );
    let list = ctx.search(&owner.token, &marker).await?;
    ensure_eq!(ids(&list), vec![id], "owner's search for the draft");
    Ok(())
}

pub(crate) async fn unpublished_post_is_hidden_from_other_users(ctx: Ctx) -> CaseResult {
    let owner = ctx.new_user().await?;
    let other = ctx.new_user().await?;
    let marker = unique_marker();
    // The draft is the newest, so it would come first if it leaked.
    let public = ctx
        .create_post(&owner, &format!("public {marker}"), true)
        .await?;
    let draft = ctx
        .create_post(&owner, &format!("draft {marker}"), false)
        .await?;
    let draft_id = int(&draft, "id")?;
    ctx.get(&format!("/posts/{draft_id}"), Some(&other.token))
        .await?
        .expect_detail(404)?;
    let list = ctx.search(&other.token, &marker).await?;
    ensure_eq!(ids(&list), vec![int(&public, "id")?], "other user's search");
    // Paging counts only the visible posts.
    let list = ctx
        .list_posts(&other.token, &format!("search={marker}&limit=1"))
        .await?;
    ensure_eq!(
        ids(&list),
        vec![int(&public, "id")?],
        "other user's first page"
    );
    Ok(())
}
