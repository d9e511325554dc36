//! Typed async client for the RST Cloud Threat Feed API v1.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod feed;
pub mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use error::{ApiErrorBody, Error, Result, SnapshotError, TimeoutKind};
pub use feed::{Feed, Format, SnapshotDate};
pub use models::{
    AuthCheck, CommonFields, DomainRecord, FeedRecord, FpAlarm, HashRecord, HaveData,
    IndicatorRecord, IndicatorType, IpRecord, Lookup, Ports, Submission, UrlRecord, Whois,
};
