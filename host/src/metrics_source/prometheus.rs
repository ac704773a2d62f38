//! Prometheus metric source: the HTTP API's `query_range` over the analysis window.
//! Every sample of every returned series is one observation of the arm, so a query that
//! returns one series per pod gives the policy every pod's values.

use std::time::Duration;

use serde::Deserialize;

use super::{MetricsSource, Samples, SourceError, SourceFuture, Window};
use crate::http::HttpClient;
use crate::secret::Secret;

/// Most points Prometheus returns per series; the step is widened to stay below it.
const MAX_POINTS_PER_SERIES: u64 = 10_000;

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum PrometheusAuth {
    /// None.
    None,
    /// `Authorization: Bearer`.
    Bearer(Secret),
    /// `Authorization: Basic`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
}

/// A Prometheus server as a metric source.
#[derive(Debug, Clone)]
pub struct Prometheus {
    name: String,
    base: String,
    auth: PrometheusAuth,
    client: HttpClient,
    timeout: Duration,
    step: Duration,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    values: Vec<(f64, String)>,
}

impl Prometheus {
    /// The provider `name` at `url`.
    pub fn new(
        name: &str,
        url: &str,
        auth: PrometheusAuth,
        client: HttpClient,
        timeout: Duration,
        step: Duration,
    ) -> Self {
        Self {
            name: name.to_owned(),
            base: url.trim_end_matches('/').to_owned(),
            auth,
            client,
            timeout,
            step,
        }
    }

    /// The step for `window`: the configured one, widened so no series has more than
    /// [`MAX_POINTS_PER_SERIES`] points.
    fn step_for(&self, window: Window) -> f64 {
        let span_s = window.until_ms.saturating_sub(window.since_ms) as f64 / 1000.0;
        let least = span_s / MAX_POINTS_PER_SERIES as f64;
        self.step.as_secs_f64().max(least).max(0.001)
    }

    async fn read(&self, query: &str, window: Window, max: usize) -> Result<Samples, SourceError> {
        let source_name = format!("Prometheus provider `{}`", self.name);
        let refused = |message: String| SourceError::Query {
            source_name: source_name.clone(),
            query: crate::decision::excerpt(query, 300),
            message,
        };
        let url = format!(
            "{}/api/v1/query_range?query={}&start={}&end={}&step={}",
            self.base,
            percent_encode(query),
            seconds(window.since_ms),
            seconds(window.until_ms),
            self.step_for(window)
        );
        let mut headers = vec![("accept", "application/json".to_owned())];
        match &self.auth {
            PrometheusAuth::None => {}
            PrometheusAuth::Bearer(t) => {
                headers.push(("authorization", format!("Bearer {}", t.expose())));
            }
            PrometheusAuth::Basic { username, password } => {
                use base64::Engine as _;
                let pair = format!("{username}:{}", password.expose());
                headers.push((
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(pair)
                    ),
                ));
            }
        }
        let answer = self
            .client
            .send("GET", &url, &headers, None, self.timeout)
            .await
            .map_err(|e| SourceError::Unreachable {
                source_name: source_name.clone(),
                message: e.to_string(),
            })?;
        if answer.status >= 500 || answer.status == 429 {
            return Err(SourceError::Unreachable {
                source_name,
                message: format!(
                    "HTTP {}: {}",
                    answer.status,
                    crate::decision::excerpt(&String::from_utf8_lossy(&answer.body), 300)
                ),
            });
        }
        let parsed: Answer = serde_json::from_slice(&answer.body).map_err(|e| {
            refused(format!(
                "HTTP {}, not a Prometheus API answer ({e}): {}",
                answer.status,
                crate::decision::excerpt(&String::from_utf8_lossy(&answer.body), 200)
            ))
        })?;
        if parsed.status != "success" {
            return Err(refused(format!(
                "{}: {}",
                parsed.error_type.unwrap_or_else(|| "error".into()),
                parsed.error.unwrap_or_default()
            )));
        }
        let data = parsed
            .data
            .ok_or_else(|| refused("the answer has no data".into()))?;
        if data.result_type != "matrix" {
            return Err(refused(format!(
                "the result is a {}, not a range vector (matrix)",
                data.result_type
            )));
        }
        let mut samples = Samples {
            values: Vec::new(),
            truncated: false,
        };
        'series: for series in data.result {
            for (_, text) in series.values {
                // Prometheus writes NaN and ±Inf as `NaN`, `+Inf`, `-Inf`.
                let value = text.parse::<f64>().unwrap_or(f64::NAN);
                if !samples.push(value, max) {
                    break 'series;
                }
            }
        }
        Ok(samples)
    }
}

/// Unix milliseconds as the seconds Prometheus takes.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `text` percent-encoded for a query string (everything but unreserved characters).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl MetricsSource for Prometheus {
    fn samples<'a>(&'a self, query: &'a str, window: Window, max: usize) -> SourceFuture<'a> {
        Box::pin(self.read(query, window, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded_and_times_are_seconds() {
        assert_eq!(
            percent_encode(r#"rate(x{v="v1"}[5m]) / 2"#),
            "rate%28x%7Bv%3D%22v1%22%7D%5B5m%5D%29%20%2F%202"
        );
        assert_eq!(seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(seconds(5), "0.005");
    }

    #[test]
    fn the_step_widens_for_long_windows() {
        let p = Prometheus::new(
            "p",
            "http://127.0.0.1:1",
            PrometheusAuth::None,
            HttpClient::new(None).expect("client"),
            Duration::from_secs(1),
            Duration::from_secs(15),
        );
        let short = Window {
            since_ms: 0,
            until_ms: 600_000,
        };
        assert_eq!(p.step_for(short), 15.0);
        let long = Window {
            since_ms: 0,
            until_ms: 1_000_000_000,
        };
        assert_eq!(p.step_for(long), 100.0);
    }
}
