//! The four feeds, their snapshot formats and the dates a snapshot can be asked for.

use std::fmt;
use std::str::FromStr;

use time::Date;
use time::macros::format_description;

use crate::error::Error;

/// One of the four RST Cloud threat feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    /// IPv4 addresses (`/ip`).
    Ip,
    /// Domain names (`/domain`).
    Domain,
    /// URLs (`/url`).
    Url,
    /// File hashes: MD5, SHA1 and SHA256 (`/hash`).
    Hash,
}

impl Feed {
    /// All four feeds, in the order the API documents them.
    pub const ALL: [Feed; 4] = [Feed::Ip, Feed::Domain, Feed::Url, Feed::Hash];

    /// The feed's path segment and name on the wire: `ip`, `domain`, `url` or `hash`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Feed::Ip => "ip",
            Feed::Domain => "domain",
            Feed::Url => "url",
            Feed::Hash => "hash",
        }
    }
}

impl fmt::Display for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Feed {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ip" => Ok(Feed::Ip),
            "domain" => Ok(Feed::Domain),
            "url" => Ok(Feed::Url),
            "hash" => Ok(Feed::Hash),
            _ => Err(Error::invalid_input(
                "feed",
                format!("{s:?} is not one of ip, domain, url, hash"),
            )),
        }
    }
}

/// The file format of a snapshot. Both are served gzip'd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// One JSON object per line (NDJSON): the format the typed record streams read.
    #[default]
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

impl Format {
    /// The value of the `type` query parameter: `json` or `csv`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    /// The file extension of a decompressed snapshot in this format.
    pub const fn extension(self) -> &'static str {
        self.as_str()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(Error::invalid_input(
                "format",
                format!("{s:?} is not one of json, csv"),
            )),
        }
    }
}

/// Which snapshot of a feed to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SnapshotDate {
    /// The newest daily snapshot (`latest`).
    #[default]
    Latest,
    /// The indicators updated in the last hour (`1h_latest`).
    LastHour,
    /// The indicators updated in the last four hours (`4h_latest`).
    Last4Hours,
    /// The indicators updated in the last twelve hours (`12h_latest`).
    Last12Hours,
    /// The daily snapshot of one calendar day, sent as `%Y%m%d`.
    Day(Date),
}

impl SnapshotDate {
    /// The value of the `date` query parameter.
    pub fn to_query_value(self) -> String {
        match self {
            SnapshotDate::Latest => "latest".to_owned(),
            SnapshotDate::LastHour => "1h_latest".to_owned(),
            SnapshotDate::Last4Hours => "4h_latest".to_owned(),
            SnapshotDate::Last12Hours => "12h_latest".to_owned(),
            SnapshotDate::Day(day) => format!(
                "{:04}{:02}{:02}",
                day.year(),
                u8::from(day.month()),
                day.day()
            ),
        }
    }
}

impl fmt::Display for SnapshotDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_query_value())
    }
}

impl From<Date> for SnapshotDate {
    fn from(day: Date) -> Self {
        SnapshotDate::Day(day)
    }
}

impl FromStr for SnapshotDate {
    type Err = Error;

    /// Reads `latest`, `1h_latest`, `4h_latest`, `12h_latest`, a day as `YYYYMMDD` or
    /// as `YYYY-MM-DD`. The day must exist in the calendar.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        match s {
            "latest" => return Ok(SnapshotDate::Latest),
            "1h_latest" => return Ok(SnapshotDate::LastHour),
            "4h_latest" => return Ok(SnapshotDate::Last4Hours),
            "12h_latest" => return Ok(SnapshotDate::Last12Hours),
            _ => {}
        }
        let compact = format_description!("[year][month][day]");
        let dashed = format_description!("[year]-[month]-[day]");
        Date::parse(s, compact)
            .or_else(|_| Date::parse(s, dashed))
            .map(SnapshotDate::Day)
            .map_err(|_| {
                Error::invalid_input(
                    "date",
                    format!(
                        "{s:?} is not latest, 1h_latest, 4h_latest, 12h_latest \
                         or a calendar day as YYYYMMDD"
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn days_are_written_compact_on_the_wire() {
        assert_eq!(
            SnapshotDate::Day(date!(2023 - 04 - 27)).to_query_value(),
            "20230427"
        );
        assert_eq!(SnapshotDate::Last4Hours.to_query_value(), "4h_latest");
    }

    #[test]
    fn dates_parse_from_both_spellings_and_reject_impossible_days() {
        assert_eq!(
            "20230427".parse::<SnapshotDate>().unwrap(),
            SnapshotDate::Day(date!(2023 - 04 - 27))
        );
        assert_eq!(
            "2024-02-29".parse::<SnapshotDate>().unwrap(),
            SnapshotDate::Day(date!(2024 - 02 - 29))
        );
        assert!("20230230".parse::<SnapshotDate>().is_err());
        assert!("2023-13-01".parse::<SnapshotDate>().is_err());
        assert!("yesterday".parse::<SnapshotDate>().is_err());
    }
}
