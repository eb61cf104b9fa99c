//! SCRAM-SHA-256 and SCRAM-SHA-512 for the Kafka listener: the exchange and
//! its math live in the `rpkv-wire` crate ([`crate::wire::scram`]), where the
//! rpkv client's side shares them; this module names what the broker uses.

pub use crate::wire::scram::{
    ClientFirst, Credential, Hash, ITERATIONS, ScramError, ScramServer, parse_client_first,
};
