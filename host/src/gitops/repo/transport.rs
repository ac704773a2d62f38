//! Talking to the remote: credentials, SSH host-key and TLS certificate checks, and
//! the push with its rejection handling.

use std::cell::RefCell;
use std::path::Path;

use git2::{
    CertificateCheckStatus, Cred, CredentialType, ErrorCode, PushOptions, RemoteCallbacks,
    Repository,
};

use super::{DeployRepo, GitAuth, GitError};
use crate::gitops::known_hosts::{self, HostKeyCheck};

/// What the callbacks learned during one fetch or push: libgit2 replaces a callback's
/// error with a generic message, so the precise one is kept here.
#[derive(Default)]
pub(super) struct Findings {
    /// Why the host key was refused.
    pub(super) host_key: Option<String>,
    /// Why the server refused the ref update.
    pub(super) rejection: Option<String>,
}

impl DeployRepo {
    /// Pushes the branch. `Ok(false)`: rejected because the remote moved.
    pub(super) fn push(&self, repo: &Repository) -> Result<bool, GitError> {
        let branch = &self.settings.branch;
        let mut remote = repo
            .remote_anonymous(&self.settings.url)
            .map_err(|e| self.remote_err("push", &e, &Findings::default()))?;
        let findings = RefCell::new(Findings::default());
        let mut options = PushOptions::new();
        options.remote_callbacks(self.callbacks(&findings));
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let pushed = remote.push(&[spec.as_str()], Some(&mut options));
        drop(options);
        let findings = findings.into_inner();
        match pushed {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::NotFastForward => return Ok(false),
            Err(e) => return Err(self.remote_err("push", &e, &findings)),
        }
        match findings.rejection {
            None => Ok(true),
            Some(msg) => {
                tracing::info!(url = %self.settings.url, rejection = %msg, "push rejected");
                Ok(false)
            }
        }
    }

    pub(super) fn remote_err(
        &self,
        op: &'static str,
        e: &git2::Error,
        findings: &Findings,
    ) -> GitError {
        GitError::Remote {
            op,
            url: self.settings.url.clone(),
            attempts: 1,
            message: findings
                .host_key
                .clone()
                .unwrap_or_else(|| e.message().to_owned()),
        }
    }

    pub(super) fn callbacks<'a>(&'a self, findings: &'a RefCell<Findings>) -> RemoteCallbacks<'a> {
        let mut cb = RemoteCallbacks::new();
        let mut tried = false;
        cb.credentials(move |_url, user_from_url, allowed| {
            // libgit2 asks again after a refused credential; refuse to loop.
            if tried {
                return Err(git2::Error::from_str(
                    "the remote refused the configured credentials",
                ));
            }
            tried = true;
            match &self.settings.auth {
                GitAuth::Ssh { key_file, .. } if allowed.contains(CredentialType::SSH_KEY) => {
                    Cred::ssh_key(user_from_url.unwrap_or("git"), None, key_file, None)
                }
                GitAuth::Token { username, token }
                    if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
                {
                    Cred::userpass_plaintext(username, token.expose())
                }
                _ => Err(git2::Error::from_str(
                    "the remote asks for credentials this pipeline has not configured (ssh key or token)",
                )),
            }
        });
        let known_hosts = match &self.settings.auth {
            GitAuth::Ssh {
                known_hosts: Some(file),
                ..
            } => Some(file.clone()),
            _ => None,
        };
        let tls_ca = self.settings.tls_ca.clone();
        {
            let url = self.settings.url.clone();
            cb.certificate_check(move |cert, host| {
                if let Some(x509) = cert.as_x509() {
                    let Some(ca) = &tls_ca else {
                        // libgit2 verifies against the system's roots.
                        return Ok(CertificateCheckStatus::CertificatePassthrough);
                    };
                    return match verify_tls(ca, host, x509.data()) {
                        Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                        Err(message) => {
                            findings.borrow_mut().host_key = Some(message.clone());
                            Err(git2::Error::from_str(&message))
                        }
                    };
                }
                let Some(hostkey) = cert.as_hostkey() else {
                    return Ok(CertificateCheckStatus::CertificatePassthrough);
                };
                let Some(file) = &known_hosts else {
                    // An explicit opt-out of host-key checking.
                    return Ok(CertificateCheckStatus::CertificateOk);
                };
                let Some(key) = hostkey.hostkey() else {
                    return Err(git2::Error::from_str("the SSH server sent no host key"));
                };
                let name = known_hosts::host_pattern(host, ssh_port(&url));
                let text = std::fs::read_to_string(file).map_err(|e| {
                    git2::Error::from_str(&format!(
                        "cannot read known_hosts {}: {e}",
                        file.display()
                    ))
                })?;
                match known_hosts::check(&text, &name, key) {
                    HostKeyCheck::Trusted => Ok(CertificateCheckStatus::CertificateOk),
                    other => {
                        let message = format!(
                            "host key verification failed for {name}: {}; check {}",
                            match other {
                                HostKeyCheck::Mismatch => "the key differs from the one in known_hosts (possible man-in-the-middle)",
                                HostKeyCheck::Revoked => "the key is revoked",
                                _ => "the host is not in known_hosts",
                            },
                            file.display()
                        );
                        findings.borrow_mut().host_key = Some(message.clone());
                        Err(git2::Error::from_str(&message))
                    }
                }
            });
        }
        cb.push_update_reference(move |_refname, status| {
            if let Some(msg) = status {
                findings.borrow_mut().rejection = Some(msg.to_owned());
            }
            Ok(())
        });
        cb
    }
}

/// Checks a TLS server certificate (DER) for `host` against the CA certificates in
/// `ca_file`. Only the server's own certificate is available here, so it must be signed
/// by one of those CAs directly (no intermediates).
fn verify_tls(ca_file: &Path, host: &str, der: &[u8]) -> Result<(), String> {
    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    let fail = |m: String| format!("TLS certificate of {host} not trusted: {m}");
    let pem = std::fs::read(ca_file)
        .map_err(|e| fail(format!("cannot read CA file {}: {e}", ca_file.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("CA file {}: {e}", ca_file.display())))?;
        roots
            .add(cert)
            .map_err(|e| fail(format!("CA file {}: {e}", ca_file.display())))?;
    }
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        std::sync::Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .map_err(|e| fail(e.to_string()))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| fail(e.to_string()))?;
    verifier
        .verify_server_cert(
            &CertificateDer::from(der.to_vec()),
            &[],
            &name,
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
        .map_err(|e| fail(format!("{e} (checked against {})", ca_file.display())))
}

/// The port of an `ssh://` URL (22 when absent or for scp-like `user@host:path`).
pub fn ssh_port(url: &str) -> u16 {
    url.strip_prefix("ssh://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(22)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_ports_come_from_the_url() {
        assert_eq!(ssh_port("ssh://git@127.0.0.1:2222/srv/d.git"), 2222);
        assert_eq!(ssh_port("ssh://git@host/srv/d.git"), 22);
        assert_eq!(ssh_port("git@host:org/d.git"), 22);
    }
}
