//! `linkplane ca`: print the installation's CA bundle (PEM), which agents and `curl` trust
//! for `https://<clusterId>.external.<baseDomain>/`.

use std::path::PathBuf;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  linkplane ca > ca.pem\n  linkplane ca --data-dir /var/lib/linkplane > ca.pem\n  curl --cacert ca.pem https://<clusterId>.external.linkplane.test/"
)]
pub struct CaArgs {
    /// Control plane to ask (GET /v1/ca.pem, no token needed).
    #[arg(long, env = "LINKPLANE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Read `<data-dir>/ca.pem` directly instead of asking the server.
    #[arg(long, env = "LINKPLANE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

pub async fn run(args: CaArgs) -> anyhow::Result<()> {
    let pem = match &args.data_dir {
        Some(dir) => {
            let path = dir.join("ca.pem");
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "reading {} (it is created by `linkplane serve` on first start)",
                    path.display()
                )
            })?
        }
        None => fetch(&args.url).await?,
    };
    anyhow::ensure!(
        pem.contains("-----BEGIN CERTIFICATE-----"),
        "the answer is not a PEM certificate"
    );
    print!("{pem}");
    Ok(())
}

async fn fetch(url: &str) -> anyhow::Result<String> {
    let client = linkplane_client::Client::builder(url)
        .build()
        .map_err(|e| anyhow::anyhow!("--url {e}"))?;
    client.ca_pem().await.map_err(|e| match e.status() {
        Some(status) => anyhow::anyhow!("GET {}/v1/ca.pem answered {status}", client.base_url()),
        None => anyhow::Error::new(e).context(format!(
            "cannot reach the linkplane control plane at {url}; is `linkplane serve` running?"
        )),
    })
}
