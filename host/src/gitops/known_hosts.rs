//! SSH host-key verification against an OpenSSH `known_hosts` file.
//!
//! Supported: plain host patterns (`host`, `[host]:port`, comma-separated lists, `*` and
//! `?` wildcards, `!` negation) and `@revoked` markers. Hashed entries (`|1|…`, written by
//! `HashKnownHosts yes`) are skipped: write the deploy host unhashed, for example with
//! `ssh-keyscan -p PORT HOST` without `-H`.

use base64::Engine as _;

/// The `known_hosts` name of `host:port` (`host` on port 22, `[host]:port` otherwise).
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The outcome of a host-key check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// A listed key matches.
    Trusted,
    /// The host is listed but with other keys: possibly an attack.
    Mismatch,
    /// The key is listed as revoked.
    Revoked,
    /// The host is not listed.
    Unknown,
}

/// Checks the raw public key blob `key` presented by `name` (see [`host_pattern`]).
pub fn check(known_hosts: &str, name: &str, key: &[u8]) -> HostKeyCheck {
    let mut listed = false;
    for line in known_hosts.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (marker, hosts) = match fields.next() {
            Some(m) if m.starts_with('@') => (Some(m), fields.next()),
            h => (None, h),
        };
        let (Some(hosts), Some(_key_type), Some(blob)) = (hosts, fields.next(), fields.next())
        else {
            continue;
        };
        if marker == Some("@cert-authority") || !hosts_match(hosts, name) {
            continue;
        }
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(blob) else {
            continue;
        };
        if marker == Some("@revoked") {
            if blob == key {
                return HostKeyCheck::Revoked;
            }
            continue;
        }
        listed = true;
        if blob == key {
            return HostKeyCheck::Trusted;
        }
    }
    if listed {
        HostKeyCheck::Mismatch
    } else {
        HostKeyCheck::Unknown
    }
}

fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for p in patterns.split(',') {
        if let Some(negated) = p.strip_prefix('!') {
            if wildcard(negated, name) {
                return false;
            }
        } else if !p.starts_with('|') && wildcard(p, name) {
            matched = true;
        }
    }
    matched
}

/// OpenSSH pattern matching: `*` any run, `?` one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &[u8] = b"key-a";
    const KEY_B: &[u8] = b"key-b";

    fn b64(k: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(k)
    }

    #[test]
    fn listed_keys_are_trusted_and_others_are_not() {
        let file = format!(
            "# deploy hosts\n[127.0.0.1]:2222 ssh-ed25519 {}\ngit.example.com,10.0.0.1 ssh-ed25519 {}\n",
            b64(KEY_A),
            b64(KEY_B)
        );
        let name = host_pattern("127.0.0.1", 2222);
        assert_eq!(check(&file, &name, KEY_A), HostKeyCheck::Trusted);
        assert_eq!(check(&file, &name, KEY_B), HostKeyCheck::Mismatch);
        assert_eq!(check(&file, "127.0.0.1", KEY_A), HostKeyCheck::Unknown);
        assert_eq!(check(&file, "10.0.0.1", KEY_B), HostKeyCheck::Trusted);
        assert_eq!(check("", &name, KEY_A), HostKeyCheck::Unknown);
    }

    #[test]
    fn wildcards_negation_and_revocation() {
        let file = format!(
            "*.example.com,!bad.example.com ssh-rsa {}\n@revoked * ssh-rsa {}\n",
            b64(KEY_A),
            b64(KEY_B)
        );
        assert_eq!(
            check(&file, "git.example.com", KEY_A),
            HostKeyCheck::Trusted
        );
        assert_eq!(
            check(&file, "bad.example.com", KEY_A),
            HostKeyCheck::Unknown
        );
        assert_eq!(
            check(&file, "git.example.com", KEY_B),
            HostKeyCheck::Revoked
        );
        assert!(wildcard("g?t*", "git.example.com"));
        assert!(!wildcard("g?t", "git.example.com"));
    }
}
