//! Votes: one per user and post, added or removed.

use super::Agora;
use crate::domain::{Caller, PostId};
use crate::error::{Error, Result};
use crate::schema::{Message, VoteDirection, VoteRequest};
use crate::storage::StorageError;

/// What a successful vote request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteOutcome {
    /// The vote was recorded.
    Added,
    /// The vote was removed.
    Removed,
}

impl VoteOutcome {
    /// The `{"message": ...}` answer of the original API.
    pub fn message(self) -> Message {
        Message::new(match self {
            VoteOutcome::Added => "successfully added vote",
            VoteOutcome::Removed => "successfully deleted vote",
        })
    }
}

impl Agora {
    /// `dir` 1 adds the caller's vote on the post ([`Error::Conflict`] if it
    /// exists, decided by the primary key), `dir` 0 removes it
    /// ([`Error::NotFound`] if there was none). A missing post, or someone
    /// else's unpublished post, is [`Error::NotFound`].
    pub async fn vote(&self, caller: &Caller, request: VoteRequest) -> Result<VoteOutcome> {
        let viewer = caller.user();
        let direction = request.direction()?;
        let post = PostId(request.post_id);
        let missing = || Error::NotFound(format!("Post with id: {post} does not exist"));
        match self.inner.store.get_post(post).await? {
            Some(found) if found.post.is_visible_to(viewer.id) => {}
            _ => return Err(missing()),
        }
        match direction {
            VoteDirection::Up => match self.inner.store.add_vote(viewer.id, post).await {
                Ok(()) => Ok(VoteOutcome::Added),
                Err(StorageError::Conflict { .. }) => Err(Error::Conflict(format!(
                    "user {} has already voted on post {post}",
                    viewer.id
                ))),
                // Deleted between the check and the insert.
                Err(StorageError::MissingReference { .. }) => Err(missing()),
                Err(e) => Err(e.into()),
            },
            VoteDirection::Remove => {
                if self.inner.store.remove_vote(viewer.id, post).await? {
                    Ok(VoteOutcome::Removed)
                } else {
                    Err(Error::NotFound("Vote does not exist".to_owned()))
                }
            }
        }
    }
}
