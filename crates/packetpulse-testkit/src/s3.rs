//! An S3 server: `s3s-fs`, which stores objects as files and checks request signatures.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};

use crate::process::ServerProcess;
use crate::supervised::Supervised;
use crate::wait::{free_port, http_status};
use crate::{Error, run_dir, tools, unique_name};

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// An S3-compatible server on a free port with fixed test credentials.
///
/// Bucket names allow no underscores; [`S3Server::create_unique_bucket`] makes valid ones.
#[derive(Debug)]
pub struct S3Server {
    port: u16,
    server: Supervised,
    // Declared last: removed after the process stopped.
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Test access key (dev default, not a secret).
    pub const ACCESS_KEY: &'static str = "packetpulse-test";
    /// Test secret key (dev default, not a secret).
    pub const SECRET_KEY: &'static str = "packetpulse-test-secret";
    /// Region to sign requests for.
    pub const REGION: &'static str = "us-east-1";

    /// Starts a server and waits until it answers HTTP.
    pub fn start() -> Result<Self, Error> {
        let program = tools::find("s3s-fs", &[])?;
        let dir = run_dir::server_dir("s3")?;
        let root = dir.path().join("data");
        std::fs::create_dir_all(&root).map_err(Error::io(format!("creating {}", root.display())))?;
        let port = free_port()?;
        let args = [
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--access-key".into(),
            Self::ACCESS_KEY.into(),
            "--secret-key".into(),
            Self::SECRET_KEY.into(),
            root.display().to_string(),
        ];
        let process = ServerProcess::start("s3s-fs", &program, args, dir.path())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Any HTTP answer will do: an unsigned request is refused, which proves the server is up.
        let server = Supervised::start(process, format!("s3s-fs on {addr}"), READY_TIMEOUT, move || {
            http_status(addr, "/").map(|_| ())
        })?;
        Ok(Self { port, server, dir })
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory the server stores buckets in (one subdirectory per bucket).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Creates a bucket. s3s-fs keeps a bucket as a directory of its root, so this creates that directory.
    pub fn create_bucket(&self, name: &str) -> Result<(), Error> {
        let path = self.data_dir().join(name);
        std::fs::create_dir_all(&path)
            .map_err(Error::io(format!("creating bucket directory {}", path.display())))
    }

    /// Creates a bucket no other test uses and returns its name.
    pub fn create_unique_bucket(&self, prefix: &str) -> Result<String, Error> {
        let name = unique_name(prefix).replace('_', "-");
        self.create_bucket(&name)?;
        Ok(name)
    }

    /// Whether a bucket exists.
    pub fn bucket_exists(&self, name: &str) -> bool {
        Path::new(&self.data_dir()).join(name).is_dir()
    }

    /// An `object_store` client for `bucket`, path-style, signing with the test credentials.
    pub fn object_store(&self, bucket: &str) -> Result<AmazonS3, Error> {
        Ok(self.object_store_builder(bucket).build()?)
    }

    /// The builder behind [`S3Server::object_store`], to change credentials or options in a test.
    pub fn object_store_builder(&self, bucket: &str) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_bucket_name(bucket)
            .with_access_key_id(Self::ACCESS_KEY)
            .with_secret_access_key(Self::SECRET_KEY)
            .with_region(Self::REGION)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
    }

    /// Stops the server; for outage tests.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Starts it again on the same port and data, and waits until it is ready.
    pub fn restart(&self) -> Result<(), Error> {
        self.server.restart()
    }
}
