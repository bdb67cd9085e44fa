//! The storage conformance suite on the in-memory store.

use std::sync::Arc;

use agora_core::storage::Store;
use agora_core::storage::memory::MemoryStore;

agora_core::storage_conformance_tests!(memory, async {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    Some((store, ()))
});
