//! Tables of shared objects found by the id each of them carries.
//!
//! A `HashSet` of the objects themselves rather than a `HashMap` from a copy of the id: a
//! bucket then holds one pointer (8 bytes) instead of a key and a value (24), and every
//! connection has an entry in two such tables (the engine's sessions, the Socket.IO
//! sockets), whose buckets outnumber the entries by up to two to one.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// An object that names itself: its key in a [`Table`].
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

/// Shared objects found by their keys; inserting an object replaces the one of the same key.
pub(crate) struct Table<T>(HashSet<ById<T>>);

/// A shared object in a [`Table`], hashed and compared as its key (so the table is looked up
/// with a `&str`).
struct ById<T>(Arc<T>);

impl<T: Keyed> Table<T> {
    pub(crate) fn new() -> Self {
        Self(HashSet::new())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The object of this key.
    pub(crate) fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.0.get(key).map(|e| &e.0)
    }

    /// Adds an object, replacing (and returning) the one of the same key.
    pub(crate) fn insert(&mut self, object: Arc<T>) -> Option<Arc<T>> {
        self.0.replace(ById(object)).map(|e| e.0)
    }

    /// Removes the object of this key.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Arc<T>> {
        self.0.take(key).map(|e| e.0)
    }

    /// Removes this very object, not one that has replaced it under its key.
    pub(crate) fn remove_same(&mut self, object: &Arc<T>) -> bool {
        let same = self
            .get(object.key())
            .is_some_and(|e| Arc::ptr_eq(e, object));
        if same {
            self.0.remove(object.key());
        }
        same
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<T>> {
        self.0.iter().map(|e| &e.0)
    }
}

impl<T: Keyed> Borrow<str> for ById<T> {
    fn borrow(&self) -> &str {
        self.0.key()
    }
}

impl<T: Keyed> Hash for ById<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes: `Borrow<str>` requires it.
        self.0.key().hash(state)
    }
}

impl<T: Keyed> PartialEq for ById<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}

impl<T: Keyed> Eq for ById<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(String);

    impl Keyed for Named {
        fn key(&self) -> &str {
            &self.0
        }
    }

    #[test]
    fn objects_are_found_replaced_and_removed_by_their_key() {
        let mut table: Table<Named> = Table::new();
        let a = Arc::new(Named("a".into()));
        assert!(table.insert(a.clone()).is_none());
        table.insert(Arc::new(Named("b".into())));
        assert!(Arc::ptr_eq(table.get("a").unwrap(), &a));
        let a2 = Arc::new(Named("a".into()));
        let old = table.insert(a2.clone()).unwrap();
        assert!(Arc::ptr_eq(&old, &a));
        assert!(Arc::ptr_eq(table.get("a").unwrap(), &a2));
        // the replaced object no longer removes its successor
        assert!(!table.remove_same(&a));
        assert!(table.remove_same(&a2));
        assert!(table.remove("b").is_some());
        assert!(table.get("b").is_none());
        assert_eq!(table.len(), 0);
        assert_eq!(table.values().count(), 0);
    }
}
