//! Typed models of the API's answers and of snapshot records.
//!
//! The API's values drift between eras and endpoints: numbers sometimes arrive as
//! strings, keys get renamed, fields get added. The models read all the spellings seen,
//! keep unknown fields, and keep raw values in their public fields; methods give the
//! typed view, where the placeholders the API uses for "unknown" read as `None`.

mod account;
mod common;
mod de;
mod lookup;
mod records;
mod whois;

pub use account::{AuthCheck, KeyCheck, Quota, Submission};
pub use common::{CommonFields, FalsePositive, FpAlarm, Ports, Reports, Score, Sources, Tags};
pub use lookup::{IndicatorRecord, IndicatorType, Lookup, LookupResolved};
#[allow(unused_imports, reason = "consumed by the client")]
pub(crate) use lookup::{LookupReply, classify_lookup};
pub use records::{
    Asn, AsnBound, DomainRecord, DomainResolved, FeedRecord, Geo, HashRecord, HaveData, IpAddress,
    IpRecord, ParsedUrl, RecordWhois, Related, ResolvedIps, UrlRecord, UrlResolved,
};
pub use whois::Whois;
