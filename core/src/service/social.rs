//! The social graph: profiles, follows, tags and comments.

use super::Agora;
use crate::domain::{
    Caller, Comment, CommentId, PostId, Profile, TagCount, User, UserId, Username, now,
};
use crate::error::{Error, Result};
use crate::schema::{CommentCreate, ListQuery, ProfileUpdate};
use crate::storage::{StorageError, USERNAME_KEY};

impl Agora {
    /// Changes the caller's username, bio and image (each only when given;
    /// see [`ProfileUpdate`]). A username another user has, in any case, is
    /// [`Error::UsernameTaken`], decided by the database's unique constraint.
    pub async fn update_profile(&self, caller: &Caller, request: ProfileUpdate) -> Result<User> {
        let change = request.into_change()?;
        match self.inner.store.update_profile(caller.id(), &change).await {
            Ok(Some(user)) => Ok(user),
            // Deleted while the request was in flight: the token is
            // refused, as by every protected route.
            Ok(None) => Err(Error::InvalidToken),
            Err(StorageError::Conflict { constraint }) if constraint == USERNAME_KEY => {
                let name = change.username.flatten().map(|u| u.to_string());
                Err(Error::UsernameTaken(name.unwrap_or_default()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The profile of the user with this username (case-insensitively), as
    /// `viewer` (`None`: anonymous) sees it; [`Error::ProfileNotFound`] when
    /// there is no such user.
    pub async fn profile<'c>(
        &self,
        viewer: impl Into<Option<&'c Caller>>,
        username: &str,
    ) -> Result<Profile> {
        let viewer = viewer.into().map(Caller::id);
        let (user, following) = self.user_named(username, viewer).await?;
        Profile::of(&user, following).ok_or_else(|| Error::ProfileNotFound(username.to_owned()))
    }

    /// The caller follows the user with this username (idempotent: one edge
    /// however many times, and concurrently, it is called). Following
    /// yourself is a 422; an unknown user [`Error::ProfileNotFound`].
    pub async fn follow(&self, caller: &Caller, username: &str) -> Result<Profile> {
        let (user, _) = self.user_named(username, None).await?;
        if user.id == caller.id() {
            return Err(Error::invalid(
                &["path", "username"],
                "You cannot follow yourself",
                "follow_self",
            ));
        }
        match self.inner.store.follow(caller.id(), user.id).await {
            Ok(()) => {}
            // One of the two was deleted meanwhile.
            Err(StorageError::MissingReference { .. }) => {
                return Err(Error::ProfileNotFound(username.to_owned()));
            }
            Err(e) => return Err(e.into()),
        }
        Profile::of(&user, true).ok_or_else(|| Error::ProfileNotFound(username.to_owned()))
    }

    /// The caller no longer follows the user with this username (idempotent).
    pub async fn unfollow(&self, caller: &Caller, username: &str) -> Result<Profile> {
        let (user, _) = self.user_named(username, None).await?;
        self.inner.store.unfollow(caller.id(), user.id).await?;
        Profile::of(&user, false).ok_or_else(|| Error::ProfileNotFound(username.to_owned()))
    }

    /// The user with this username and whether `viewer` follows them.
    async fn user_named(&self, username: &str, viewer: Option<UserId>) -> Result<(User, bool)> {
        let not_found = || Error::ProfileNotFound(username.to_owned());
        // A string that cannot be a username names nobody.
        let name = Username::parse(username).map_err(|_| not_found())?;
        self.inner
            .store
            .find_by_username(&name, viewer)
            .await?
            .ok_or_else(not_found)
    }

    /// The tags of published posts, most used first, paged by `query`'s
    /// `limit` and `skip`.
    pub async fn tags(&self, query: &ListQuery) -> Result<Vec<TagCount>> {
        Ok(self.inner.store.tags(query.limit, query.skip).await?)
    }

    /// The comments on a post the viewer can see (else
    /// [`Error::PostNotFound`]), oldest first, paged by `query`'s `limit`,
    /// `skip` and `after` (a comment id: only newer ones).
    pub async fn comments<'c>(
        &self,
        viewer: impl Into<Option<&'c Caller>>,
        post: PostId,
        query: &ListQuery,
    ) -> Result<Vec<Comment>> {
        let viewer = viewer.into();
        self.get_post(viewer, post).await?;
        let comments = self
            .inner
            .store
            .list_comments(post, query.after.unwrap_or(0), query.limit, query.skip)
            .await?;
        let viewer = viewer.map(Caller::id);
        Ok(comments
            .into_iter()
            .map(|c| Comment {
                author: self.shown_to(c.author, viewer),
                ..c
            })
            .collect())
    }

    /// The caller comments on a post they can see (else [`Error::PostNotFound`]).
    pub async fn add_comment(
        &self,
        caller: &Caller,
        post: PostId,
        request: CommentCreate,
    ) -> Result<Comment> {
        let body = request.into_body()?;
        self.get_post(caller, post).await?;
        match self
            .inner
            .store
            .add_comment(post, caller.user(), &body, now())
            .await
        {
            Ok(comment) => Ok(comment),
            // The post (or the caller) was deleted meanwhile.
            Err(StorageError::MissingReference { .. }) => Err(Error::PostNotFound(post)),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes one of the caller's comments on a post they can see: 404
    /// when the post or the comment (on that post) is missing, 403
    /// ([`Error::NotCommentAuthor`]) when it is someone else's.
    pub async fn delete_comment(
        &self,
        caller: &Caller,
        post: PostId,
        comment: CommentId,
    ) -> Result<()> {
        self.get_post(caller, post).await?;
        let found = self
            .inner
            .store
            .get_comment(comment)
            .await?
            .filter(|c| c.post_id == post)
            .ok_or(Error::CommentNotFound(comment))?;
        if found.author.id != caller.id() {
            return Err(Error::NotCommentAuthor);
        }
        if self.inner.store.delete_comment(comment).await? {
            Ok(())
        } else {
            Err(Error::CommentNotFound(comment))
        }
    }
}
