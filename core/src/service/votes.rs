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
    /// `dir` 1 adds the caller's vote on the post ([`Error::VoteExists`] if it
    /// exists, decided by the primary key), `dir` 0 removes it
    /// ([`Error::VoteNotFound`] if there was none). A missing post, or someone
    /// else's unpublished post, is [`Error::PostNotFound`].
    pub async fn vote(&self, caller: &Caller, request: VoteRequest) -> Result<VoteOutcome> {
        let viewer = caller.user();
        let direction = request.direction()?;
        let post = PostId(request.post_id);
        match self.inner.store.get_post(post, Some(viewer.id)).await? {
            Some(found) if found.post.is_visible_to(Some(viewer.id)) => {}
            _ => return Err(Error::PostNotFound(post)),
        }
        match direction {
            VoteDirection::Up => match self.inner.store.add_vote(viewer.id, post).await {
                Ok(()) => Ok(VoteOutcome::Added),
                Err(StorageError::Conflict { .. }) => Err(Error::VoteExists {
                    user: viewer.id,
                    post,
                }),
                // Deleted between the check and the insert.
                Err(StorageError::MissingReference { .. }) => Err(Error::PostNotFound(post)),
                Err(e) => Err(e.into()),
            },
            VoteDirection::Remove => {
                if self.inner.store.remove_vote(viewer.id, post).await? {
                    Ok(VoteOutcome::Removed)
                } else {
                    Err(Error::VoteNotFound)
                }
            }
        }
    }
}
