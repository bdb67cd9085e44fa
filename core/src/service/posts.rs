//! Posts: creation, listing, reading, editing and deleting, with ownership
//! and visibility rules.

use super::Agora;
use crate::domain::{Caller, Post, PostFilter, PostId, PostWithVotes, UserId, now};
use crate::error::{Error, Result};
use crate::schema::{ListQuery, PostCreate};
use crate::storage::StorageError;

impl Agora {
    /// Creates a post owned by the caller.
    pub async fn create_post(&self, caller: &Caller, request: PostCreate) -> Result<Post> {
        let draft = request.into_draft()?;
        match self
            .inner
            .store
            .create_post(caller.user(), &draft, now())
            .await
        {
            Ok(post) => Ok(post),
            // The owner was deleted while the request was in flight: their
            // token is refused, as by every protected route.
            Err(StorageError::MissingReference { .. }) => Err(Error::InvalidToken),
            Err(e) => Err(e.into()),
        }
    }

    /// Posts visible to the viewer (a caller, or `None` for an anonymous
    /// one: published posts only), newest first, filtered and paged by
    /// `query`.
    pub async fn list_posts<'c>(
        &self,
        viewer: impl Into<Option<&'c Caller>>,
        query: ListQuery,
    ) -> Result<Vec<PostWithVotes>> {
        self.page_of_posts(viewer.into().map(Caller::id), query, false)
            .await
    }

    /// The caller's feed: the published posts of the users they follow,
    /// newest first, filtered and paged like [`Agora::list_posts`].
    pub async fn feed(&self, caller: &Caller, query: ListQuery) -> Result<Vec<PostWithVotes>> {
        self.page_of_posts(Some(caller.id()), query, true).await
    }

    async fn page_of_posts(
        &self,
        viewer: Option<UserId>,
        query: ListQuery,
        feed: bool,
    ) -> Result<Vec<PostWithVotes>> {
        let filter = PostFilter {
            viewer,
            feed,
            tag: query.tag,
            author: query.author,
            voted_by: query.voted_by,
            limit: query.limit,
            skip: query.skip,
            before: query.after.unwrap_or(i64::MAX),
            search: Some(query.search).filter(|s| !s.is_empty()),
        };
        let posts = self.inner.store.list_posts(&filter).await?;
        Ok(posts
            .into_iter()
            .map(|p| PostWithVotes {
                post: self.post_shown_to(p.post, viewer),
                ..p
            })
            .collect())
    }

    /// One post with its votes. Someone else's unpublished post is
    /// [`Error::PostNotFound`], exactly like a missing one (for an
    /// anonymous viewer, `None`, every unpublished post).
    pub async fn get_post<'c>(
        &self,
        viewer: impl Into<Option<&'c Caller>>,
        id: PostId,
    ) -> Result<PostWithVotes> {
        let viewer = viewer.into().map(Caller::id);
        let found = self.inner.store.get_post(id, viewer).await?;
        self.visible_post(viewer, id, found)
    }

    /// The post `found` for `id`, as `viewer` may see it.
    pub(super) fn visible_post(
        &self,
        viewer: Option<UserId>,
        id: PostId,
        found: Option<PostWithVotes>,
    ) -> Result<PostWithVotes> {
        match found {
            Some(found) if found.post.is_visible_to(viewer) => Ok(PostWithVotes {
                post: self.post_shown_to(found.post, viewer),
                ..found
            }),
            _ => Err(Error::PostNotFound(id)),
        }
    }

    /// Replaces a post's fields; only its owner may ([`Error::NotOwner`]).
    pub async fn update_post(
        &self,
        caller: &Caller,
        id: PostId,
        request: PostCreate,
    ) -> Result<Post> {
        let draft = request.into_draft()?;
        let id = self.owned_post(caller, id).await?;
        self.inner
            .store
            .update_post(id, &draft, now())
            .await?
            .ok_or(Error::PostNotFound(id))
    }

    /// Deletes a post and its votes; only its owner may ([`Error::NotOwner`]).
    pub async fn delete_post(&self, caller: &Caller, id: PostId) -> Result<()> {
        let id = self.owned_post(caller, id).await?;
        if self.inner.store.delete_post(id).await? {
            Ok(())
        } else {
            Err(Error::PostNotFound(id))
        }
    }

    /// The id of a post the caller owns: 404 when missing or invisible, 403
    /// when visible but someone else's. Ownership never changes, so the
    /// check cannot go stale before the write.
    async fn owned_post(&self, caller: &Caller, id: PostId) -> Result<PostId> {
        let found = self.get_post(Some(caller), id).await?;
        if found.post.owner_id != caller.id() {
            return Err(Error::NotOwner);
        }
        Ok(found.post.id)
    }
}
