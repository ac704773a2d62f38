//! A Kubernetes client from a kubeconfig file, or the inferred configuration (in
//! cluster: the service account; outside: `$KUBECONFIG` or `~/.kube/config`).

use std::path::Path;

/// Connects with the kubeconfig at `path`, or the inferred configuration.
///
/// # Errors
/// The file cannot be read or used, or no configuration can be inferred.
pub async fn connect(path: Option<&Path>) -> Result<kube::Client, String> {
    let config = match path {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration: {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("Kubernetes client: {e}"))
}
