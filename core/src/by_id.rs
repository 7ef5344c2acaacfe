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

/// A shared object in a [`Table`], hashed and compared as its key (so the table is looked up
/// with a `&str`).
pub(crate) struct ById<T>(pub(crate) Arc<T>);

/// Shared objects by their keys.
pub(crate) type Table<T> = HashSet<ById<T>>;

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
        table.insert(ById(a.clone()));
        table.insert(ById(Arc::new(Named("b".into()))));
        assert!(Arc::ptr_eq(&table.get("a").unwrap().0, &a));
        let a2 = Arc::new(Named("a".into()));
        let old = table.replace(ById(a2.clone())).unwrap();
        assert!(Arc::ptr_eq(&old.0, &a));
        assert!(Arc::ptr_eq(&table.get("a").unwrap().0, &a2));
        assert!(table.remove("b"));
        assert!(!table.contains("b"));
        assert_eq!(table.len(), 1);
    }
}
