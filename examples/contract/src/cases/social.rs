//! The social graph: usernames and profiles, follows and the feed, tags,
//! author and voter filters, comments.

use serde_json::{Value, json};

use crate::client::{User, check_post, check_post_out, check_user, ids, int, string};
use crate::util::{random_hex, unique_marker};
use crate::{CaseResult, Ctx};

/// Asserts the exact `Profile` shape and returns `following`.
fn check_profile(profile: &Value, username: &str) -> Result<bool, String> {
    let obj = profile
        .as_object()
        .ok_or_else(|| format!("expected a profile object, got {profile}"))?;
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    ensure_eq!(
        keys,
        vec!["bio", "following", "image", "username"],
        "profile keys"
    );
    ensure_eq!(profile["username"], json!(username), "profile username");
    profile["following"]
        .as_bool()
        .ok_or_else(|| format!("following is not a boolean in {profile}"))
}

/// `POST` (follow) or `DELETE` (unfollow) `/profiles/{name}/follow`,
/// asserting 200 and the profile, and returns `following`.
async fn set_follow(ctx: &Ctx, who: &User, name: &str, follow: bool) -> Result<bool, String> {
    let path = format!("/profiles/{name}/follow");
    let resp = if follow {
        ctx.post_json(&path, Some(&who.token), json!({})).await?
    } else {
        ctx.delete(&path, Some(&who.token)).await?
    };
    check_profile(&resp.expect(200)?, name)
}

/// A published post by `user` with `tags`, returning its id.
async fn tagged_post(ctx: &Ctx, user: &User, title: &str, tags: Value) -> Result<i64, String> {
    let body = json!({"title": title, "content": "c", "tags": tags});
    let post = ctx
        .post_json("/posts", Some(&user.token), body)
        .await?
        .expect(201)?;
    check_post(&post)
}

pub(crate) async fn usernames_are_unique_in_any_case_and_profiles_are_public(
    ctx: Ctx,
) -> CaseResult {
    let (_user, name) = ctx.new_named_user().await?;
    let profile = ctx
        .get(&format!("/profiles/{}", name.to_uppercase()), None)
        .await?
        .expect(200)?;
    ensure!(
        !check_profile(&profile, &name)?,
        "anonymous viewers follow nobody"
    );
    let clash = json!({"email": crate::util::unique_email(), "password": crate::client::PASSWORD,
        "username": name.to_uppercase()});
    ctx.post_json("/users", None, clash)
        .await?
        .expect_error(409, "USERNAME_TAKEN")?;
    let bad = json!({"email": crate::util::unique_email(), "password": crate::client::PASSWORD,
        "username": "a b"});
    ctx.post_json("/users", None, bad)
        .await?
        .expect_422(&["body", "username"])?;
    ctx.get(&format!("/profiles/x{}", random_hex(8)), None)
        .await?
        .expect_error(404, "PROFILE_NOT_FOUND")?;
    ctx.get(&format!("/profiles/{name}"), Some("not-a-token"))
        .await?
        .expect_invalid_token()?;
    Ok(())
}

pub(crate) async fn update_me_changes_only_the_fields_given(ctx: Ctx) -> CaseResult {
    let (user, name) = ctx.new_named_user().await?;
    let token = Some(user.token.as_str());
    let bio = ctx
        .put_json("/users/me", token, json!({"bio": "Hello"}))
        .await?
        .expect(200)?;
    check_user(&bio)?;
    ensure_eq!(
        (bio["bio"].clone(), bio["username"].clone()),
        (json!("Hello"), json!(name)),
        "bio set, username kept"
    );
    let image = "https://example.com/me.png";
    let both = ctx
        .put_json("/users/me", token, json!({"image": image}))
        .await?
        .expect(200)?;
    ensure_eq!(
        (both["bio"].clone(), both["image"].clone()),
        (json!("Hello"), json!(image)),
        "image set, bio kept"
    );
    let me = ctx.get("/users/me", token).await?.expect(200)?;
    ensure_eq!(me, both, "GET /users/me after the update");
    let cleared = ctx
        .put_json("/users/me", token, json!({"bio": null}))
        .await?
        .expect(200)?;
    ensure_eq!(cleared["bio"], Value::Null, "bio cleared");
    let renamed = format!("r{}", random_hex(8));
    let moved = ctx
        .put_json("/users/me", token, json!({"username": renamed}))
        .await?
        .expect(200)?;
    ensure_eq!(moved["username"], json!(renamed), "renamed");
    ctx.get(&format!("/profiles/{name}"), None)
        .await?
        .expect_error(404, "PROFILE_NOT_FOUND")?;
    ctx.put_json("/users/me", token, json!({"image": "javascript:alert(1)"}))
        .await?
        .expect_422(&["body", "image"])?;
    ctx.put_json("/users/me", None, json!({"bio": "x"}))
        .await?
        .expect_401()?;
    Ok(())
}

pub(crate) async fn follows_are_idempotent_and_checked(ctx: Ctx) -> CaseResult {
    let (fan, fan_name) = ctx.new_named_user().await?;
    let (_star, star) = ctx.new_named_user().await?;
    for _ in 0..2 {
        ensure!(set_follow(&ctx, &fan, &star, true).await?, "following");
    }
    let seen = ctx
        .get(&format!("/profiles/{star}"), Some(&fan.token))
        .await?
        .expect(200)?;
    ensure!(check_profile(&seen, &star)?, "the fan sees following");
    for _ in 0..2 {
        ensure!(!set_follow(&ctx, &fan, &star, false).await?, "unfollowed");
    }
    ctx.post_json(
        &format!("/profiles/{fan_name}/follow"),
        Some(&fan.token),
        json!({}),
    )
    .await?
    .expect_422(&["path", "username"])?;
    ctx.post_json(
        &format!("/profiles/x{}/follow", random_hex(8)),
        Some(&fan.token),
        json!({}),
    )
    .await?
    .expect_error(404, "PROFILE_NOT_FOUND")?;
    ctx.post_json(&format!("/profiles/{star}/follow"), None, json!({}))
        .await?
        .expect_401()?;
    Ok(())
}

pub(crate) async fn concurrent_follows_leave_one_edge(ctx: Ctx) -> CaseResult {
    let (fan, _) = ctx.new_named_user().await?;
    let (star, star_name) = ctx.new_named_user().await?;
    let post = ctx.create_post(&star, &unique_marker(), true).await?;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (ctx, token, path) = (
                ctx.clone(),
                fan.token.clone(),
                format!("/profiles/{star_name}/follow"),
            );
            tokio::spawn(async move { ctx.post_json(&path, Some(&token), json!({})).await })
        })
        .collect();
    for task in tasks {
        let resp = task.await.map_err(|e| e.to_string())??;
        ensure!(check_profile(&resp.expect(200)?, &star_name)?, "following");
    }
    // A duplicated edge would show the post twice.
    let feed = ctx
        .get("/feed?limit=100", Some(&fan.token))
        .await?
        .expect(200)?;
    let feed = feed.as_array().cloned().unwrap_or_default();
    ensure_eq!(ids(&feed), vec![int(&post, "id")?], "the feed");
    Ok(())
}

pub(crate) async fn the_feed_holds_followed_users_published_posts_newest_first(
    ctx: Ctx,
) -> CaseResult {
    let (reader, _) = ctx.new_named_user().await?;
    let (writer, writer_name) = ctx.new_named_user().await?;
    let other = ctx.new_user().await?;
    set_follow(&ctx, &reader, &writer_name, true).await?;
    let mut expected = Vec::new();
    for i in 0..3 {
        let post = ctx.create_post(&writer, &format!("feed {i}"), true).await?;
        expected.push(int(&post, "id")?);
        ctx.create_post(&other, &format!("other {i}"), true).await?;
    }
    ctx.create_post(&writer, "draft", false).await?;
    expected.reverse();
    let feed = ctx.get("/feed", Some(&reader.token)).await?.expect(200)?;
    let items = feed
        .as_array()
        .ok_or_else(|| format!("GET /feed: expected an array, got {feed}"))?;
    for item in items {
        check_post_out(item)?;
    }
    ensure_eq!(ids(items), expected, "the feed, newest first");
    let page = ctx
        .get(
            &format!("/feed?limit=1&after={}", expected[0]),
            Some(&reader.token),
        )
        .await?
        .expect(200)?;
    ensure_eq!(
        ids(page.as_array().map(Vec::as_slice).unwrap_or_default()),
        vec![expected[1]],
        "the next page by keyset"
    );
    ctx.get("/feed?limit=0", Some(&reader.token))
        .await?
        .expect_422(&["query", "limit"])?;
    ctx.get("/feed", None).await?.expect_401()?;
    Ok(())
}

pub(crate) async fn tags_are_normalised_filter_posts_and_are_counted(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let tag = unique_marker();
    let id = tagged_post(
        &ctx,
        &user,
        "tagged",
        json!([format!(" {}", tag.to_uppercase()), tag, "Zeta"]),
    )
    .await?;
    let post = ctx.get_post(&user.token, id).await?;
    ensure_eq!(
        post["Post"]["tags"],
        json!([tag, "zeta"]),
        "normalised tags"
    );
    tagged_post(&ctx, &user, "second", json!([tag])).await?;
    let found = ctx
        .list_posts(&user.token, &format!("tag={}", tag.to_uppercase()))
        .await?;
    ensure_eq!(found.len(), 2, "posts with the tag");
    let found = ctx
        .list_posts(&user.token, &format!("tag={tag}&search=tagged"))
        .await?;
    ensure_eq!(ids(&found), vec![id], "tag and search together");
    let tags = ctx.get("/tags?limit=100", None).await?.expect(200)?;
    let counted = tags
        .as_array()
        .and_then(|list| list.iter().find(|t| t["tag"] == json!(tag)))
        .ok_or_else(|| format!("GET /tags lacks {tag}: {tags}"))?;
    ensure_eq!(counted["posts"], json!(2), "posts counted for the tag");
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    ctx.post_json(
        "/posts",
        Some(&user.token),
        json!({"title": "t", "content": "c", "tags": eleven}),
    )
    .await?
    .expect_422(&["body", "tags"])?;
    ctx.post_json(
        "/posts",
        Some(&user.token),
        json!({"title": "t", "content": "c", "tags": ["ok", " "]}),
    )
    .await?
    .expect_422(&["body", "tags", "1"])?;
    Ok(())
}

pub(crate) async fn author_and_voted_by_filters_and_the_voted_flag(ctx: Ctx) -> CaseResult {
    let (author, author_name) = ctx.new_named_user().await?;
    let (voter, voter_name) = ctx.new_named_user().await?;
    let marker = unique_marker();
    let first = int(
        &ctx.create_post(&author, &format!("{marker} a"), true)
            .await?,
        "id",
    )?;
    let second = int(
        &ctx.create_post(&author, &format!("{marker} b"), true)
            .await?,
        "id",
    )?;
    ctx.create_post(&voter, &format!("{marker} c"), true)
        .await?;
    ctx.vote(&voter.token, first, 1).await?.expect(201)?;
    let by_author = ctx
        .list_posts(
            &voter.token,
            &format!("author={}", author_name.to_uppercase()),
        )
        .await?;
    ensure_eq!(ids(&by_author), vec![second, first], "the author's posts");
    let voted: Vec<bool> = by_author
        .iter()
        .map(|p| p["voted"] == json!(true))
        .collect();
    ensure_eq!(voted, vec![false, true], "the voter's own votes");
    let liked = ctx
        .list_posts(
            &author.token,
            &format!("voted_by={voter_name}&search={marker}"),
        )
        .await?;
    ensure_eq!(ids(&liked), vec![first], "posts the voter voted for");
    ensure_eq!(liked[0]["voted"], json!(false), "voted is the viewer's");
    let nobody = ctx
        .list_posts(&author.token, &format!("author=x{}", random_hex(8)))
        .await?;
    ensure!(nobody.is_empty(), "an unknown author has no posts");
    ctx.get("/posts?author=a%20b", Some(&author.token))
        .await?
        .expect_422(&["query", "author"])?;
    Ok(())
}

pub(crate) async fn comments_are_listed_oldest_first_and_deleted_by_their_author(
    ctx: Ctx,
) -> CaseResult {
    let owner = ctx.new_user().await?;
    let (critic, critic_name) = ctx.new_named_user().await?;
    let post = int(&ctx.create_post(&owner, "commented", true).await?, "id")?;
    let draft = int(&ctx.create_post(&owner, "draft", false).await?, "id")?;
    let path = format!("/posts/{post}/comments");
    let mut written = Vec::new();
    for (who, text) in [(&critic, "first"), (&owner, "second")] {
        let c = ctx
            .post_json(&path, Some(&who.token), json!({"body": text}))
            .await?
            .expect(201)?;
        ensure_eq!(
            (
                c["body"].clone(),
                c["post_id"].clone(),
                c["author"]["id"].clone()
            ),
            (json!(text), json!(post), json!(who.id)),
            "the new comment"
        );
        string(&c, "created_at")?;
        check_user(&c["author"])?;
        written.push(int(&c, "id")?);
    }
    let listed = ctx.get(&path, Some(&critic.token)).await?.expect(200)?;
    let listed: Vec<i64> = listed
        .as_array()
        .map(|l| l.iter().filter_map(|c| c["id"].as_i64()).collect())
        .unwrap_or_default();
    ensure_eq!(listed, written, "oldest first");
    ensure_eq!(
        ctx.get(&path, Some(&critic.token)).await?.expect(200)?[0]["author"]["username"],
        json!(critic_name),
        "the author's username"
    );
    let first = format!("{path}/{}", written[0]);
    ctx.delete(&first, Some(&owner.token))
        .await?
        .expect_error(403, "NOT_COMMENT_AUTHOR")?;
    ctx.delete(&first, Some(&critic.token)).await?.expect(204)?;
    ctx.delete(&first, Some(&critic.token))
        .await?
        .expect_error(404, "COMMENT_NOT_FOUND")?;
    ctx.delete(&format!("{path}/x"), Some(&critic.token))
        .await?
        .expect_422(&["path", "comment_id"])?;
    let hidden = format!("/posts/{draft}/comments");
    ctx.post_json(&hidden, Some(&critic.token), json!({"body": "x"}))
        .await?
        .expect_error(404, "POST_NOT_FOUND")?;
    ctx.get(&hidden, Some(&critic.token))
        .await?
        .expect_error(404, "POST_NOT_FOUND")?;
    ctx.post_json(&path, Some(&critic.token), json!({"body": "  "}))
        .await?
        .expect_422(&["body", "body"])?;
    ctx.get(&path, None).await?.expect_401()?;
    Ok(())
}

pub(crate) async fn updating_a_post_sets_updated_at_and_keeps_omitted_tags(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let id = tagged_post(&ctx, &user, "before", json!(["keep"])).await?;
    let created = ctx.get_post(&user.token, id).await?;
    ensure_eq!(created["Post"]["updated_at"], Value::Null, "never edited");
    let updated = ctx
        .put_json(
            &format!("/posts/{id}"),
            Some(&user.token),
            json!({"title": "after", "content": "c", "description": "d"}),
        )
        .await?
        .expect(200)?;
    ensure_eq!(updated["tags"], json!(["keep"]), "tags kept");
    ensure_eq!(updated["description"], json!("d"), "description set");
    let at = string(&updated, "updated_at")?;
    ensure!(crate::util::is_rfc3339(at), "updated_at is RFC 3339: {at}");
    Ok(())
}
