//! The redo entries of a write transaction: [`Tx`] records every change it
//! makes (put, delete, range delete) while applying it, and [`apply_redo`]
//! applies a record again at recovery. The format is a sequence of tagged
//! entries: `op, db, len-prefixed key[, value | upper bound]`.

use std::ops::{Bound, Deref};

use heed::types::Bytes;
use heed::{Database, Env, RwTxn, WithoutTls};

use super::RECORD_HEADER;
use crate::storage::{Dbs, Result, StoreError};

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_DELETE_RANGE: u8 = 3;

/// The databases a redo entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Db {
    Meta = 0,
    Topics = 1,
    Parts = 2,
    Log = 3,
    View = 4,
    /// Committed consumer-group offsets (`storage::offsets`).
    Offsets = 5,
}

impl Db {
    fn from_u8(b: u8) -> Option<Db> {
        Some(match b {
            0 => Db::Meta,
            1 => Db::Topics,
            2 => Db::Parts,
            3 => Db::Log,
            4 => Db::View,
            5 => Db::Offsets,
            _ => return None,
        })
    }
}

impl Dbs {
    fn raw(&self, db: Db) -> Database<Bytes, Bytes> {
        match db {
            Db::Meta => self.meta.remap_key_type::<Bytes>(),
            Db::Topics => self.topics.remap_key_type::<Bytes>(),
            Db::Parts => self.parts,
            Db::Log => self.log,
            Db::View => self.view,
            Db::Offsets => self.offsets,
        }
    }
}

/// A write transaction that records its changes for the redo log. It derefs to
/// the LMDB transaction for reads; every change goes through its methods.
pub(crate) struct Tx<'e> {
    txn: RwTxn<'e>,
    dbs: Dbs,
    redo: Vec<u8>,
}

impl<'e> Deref for Tx<'e> {
    type Target = RwTxn<'e>;
    fn deref(&self) -> &RwTxn<'e> {
        &self.txn
    }
}

impl<'e> Tx<'e> {
    /// Starts a transaction whose log record is built in `record` (a buffer
    /// from [`Wal::take_buffer`]: reused, so a group allocates nothing).
    pub fn begin(env: &'e Env<WithoutTls>, dbs: Dbs, mut record: Vec<u8>) -> Result<Tx<'e>> {
        record.clear();
        // Room for the header, filled in by `Wal::append`.
        record.resize(RECORD_HEADER, 0);
        Ok(Tx {
            txn: env.write_txn()?,
            dbs,
            redo: record,
        })
    }

    pub fn put(&mut self, db: Db, key: &[u8], value: &[u8]) -> Result<()> {
        self.dbs.raw(db).put(&mut self.txn, key, value)?;
        self.redo.extend_from_slice(&[OP_PUT, db as u8]);
        put_bytes(&mut self.redo, key);
        put_bytes(&mut self.redo, value);
        Ok(())
    }

    /// Deletes a key; true if it was there.
    pub fn delete(&mut self, db: Db, key: &[u8]) -> Result<bool> {
        let found = self.dbs.raw(db).delete(&mut self.txn, key)?;
        if found {
            self.redo.extend_from_slice(&[OP_DELETE, db as u8]);
            put_bytes(&mut self.redo, key);
        }
        Ok(found)
    }

    /// Deletes the keys in `[lower, upper)` (`upper` None: to the end).
    pub fn delete_range(&mut self, db: Db, lower: &[u8], upper: Option<&[u8]>) -> Result<usize> {
        let n = self
            .dbs
            .raw(db)
            .delete_range(&mut self.txn, &key_range(lower, upper))?;
        self.redo.extend_from_slice(&[OP_DELETE_RANGE, db as u8]);
        put_bytes(&mut self.redo, lower);
        match upper {
            Some(u) => {
                self.redo.push(1);
                put_bytes(&mut self.redo, u);
            }
            None => self.redo.push(0),
        }
        Ok(n)
    }

    /// Starts the next group's record in a transaction that stays open (the
    /// writer holds it across groups; see `storage::visibility`).
    pub fn start_record(&mut self, mut record: Vec<u8>) {
        record.clear();
        record.resize(RECORD_HEADER, 0);
        self.redo = record;
    }

    /// Takes the current group's record (header to fill, then its entries),
    /// leaving the transaction open.
    pub fn take_record(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.redo)
    }

    /// The LMDB transaction, to commit or abort.
    pub fn into_txn(self) -> RwTxn<'e> {
        self.txn
    }

    /// True if a record from [`Tx::take_record`] holds no change.
    pub fn is_empty_record(record: &[u8]) -> bool {
        record.len() <= RECORD_HEADER
    }
}

/// `[lower, upper)`, or `[lower, ..)` without an upper bound.
fn key_range<'a>(lower: &'a [u8], upper: Option<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (
        Bound::Included(lower),
        upper.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

pub(super) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Reads the payload of one record, entry by entry.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let b = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        Some(b)
    }
}

/// Applies one record's payload to a write transaction (recovery).
pub(crate) fn apply_redo(txn: &mut RwTxn, dbs: Dbs, payload: &[u8]) -> Result<()> {
    let corrupt = || StoreError::Corrupt("a redo log record does not parse".into());
    let mut r = Reader(payload);
    while let Some(op) = r.u8() {
        let db = dbs.raw(r.u8().and_then(Db::from_u8).ok_or_else(corrupt)?);
        match op {
            OP_PUT => {
                let key = r.bytes().ok_or_else(corrupt)?;
                let value = r.bytes().ok_or_else(corrupt)?;
                db.put(txn, key, value)?;
            }
            OP_DELETE => {
                db.delete(txn, r.bytes().ok_or_else(corrupt)?)?;
            }
            OP_DELETE_RANGE => {
                let lower = r.bytes().ok_or_else(corrupt)?;
                let upper = match r.u8().ok_or_else(corrupt)? {
                    0 => None,
                    _ => Some(r.bytes().ok_or_else(corrupt)?),
                };
                db.delete_range(txn, &key_range(lower, upper))?;
            }
            _ => return Err(corrupt()),
        }
    }
    Ok(())
}
