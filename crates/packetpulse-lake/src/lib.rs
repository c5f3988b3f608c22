//! Where PacketPulse's lake lives: the Iceberg catalog (SQL on SQLite or PostgreSQL, or REST), the warehouse
//! (a local directory or an S3 bucket) and the bronze table's name. Neptune writes the table with these settings,
//! Jupiter's backfill reads it with the same ones, so both read the same environment variables. The data files'
//! naming, which the backfill relies on, is defined once in [`data_files`].

pub mod catalog;
mod config;
pub mod data_files;
mod error;
pub mod metadata_swap;
pub mod table_files;

pub use config::LakeConfig;
pub use error::LakeError;
