//! When and how long to wait before trying an idempotent call again.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How idempotent calls are retried: `GET` and `HEAD` requests and snapshot downloads.
///
/// A call is tried again on `429 Too Many Requests`, `502 Bad Gateway`,
/// `504 Gateway Timeout`, a failed connection or a timeout. It is never tried again on
/// an authentication failure (the API answers a denied key with `503 Forbidden`), on
/// another `4xx`, or when it is a submission (`POST /ioc`) or a false-positive report
/// (`PUT /ioc`): those reach the server at most once per call.
///
/// The wait before attempt *n* + 1 is `base_delay × 2ⁿ⁻¹`, capped at `max_delay`, with
/// full jitter (a random share of it). A `Retry-After` header, in seconds or as an HTTP
/// date, replaces the computed wait, capped at `max_retry_after`; an unreadable one is
/// ignored.
///
/// ```
/// use std::time::Duration;
/// use rstcloud::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(5)
///     .base_delay(Duration::from_millis(200))
///     .max_delay(Duration::from_secs(10));
/// assert_eq!(policy.attempts(), 5);
/// assert_eq!(RetryPolicy::none().attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 500 ms base delay, waits capped at 30 s, `Retry-After` at 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// The number of attempts in all, the first included; at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait before the first retry, doubled for each one after it.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest computed wait between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The longest wait a `Retry-After` header can ask for.
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// The number of attempts in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before the attempt after `attempt` (counted from 1).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }

    /// The wait a `Retry-After` header asks for, capped; `None` when absent or unreadable.
    pub(crate) fn retry_after(&self, headers: &HeaderMap) -> Option<Duration> {
        let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        let wait = match value.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => {
                let at = httpdate::parse_http_date(value).ok()?;
                at.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            }
        };
        Some(wait.min(self.max_retry_after))
    }
}

/// Whether an answer with this status is worth trying again.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(250));
        for _ in 0..100 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(200));
            assert!(policy.backoff(30) <= Duration::from_millis(250));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(10));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(policy.retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(policy.retry_after(&headers), Some(Duration::from_secs(10)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&soon).unwrap());
        let wait = policy.retry_after(&headers).unwrap();
        assert!(
            wait <= Duration::from_secs(5) && wait >= Duration::from_secs(3),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(policy.retry_after(&headers), None);
    }
}
