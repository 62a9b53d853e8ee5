//! Repositories in cloud object stores: `s3://BUCKET[/PREFIX]` (and any
//! S3-compatible service), `gs://BUCKET[/PREFIX]`, `az://CONTAINER[/PREFIX]`.
//!
//! Each is configured from [`StoreOptions::variables`] as its provider's
//! tools are (`AWS_*`, `GOOGLE_*`, `AZURE_*`; for S3 also the shared
//! credentials and config files), and gets what a real network needs: a
//! bound on requests in flight, retries of transient failures (timeouts,
//! 5xx, throttling) with exponential backoff and jitter, multipart upload
//! of large objects, paginated listing and ranged reads.

use super::location::invalid_url;
use super::object::{Adapter, Flavor, ObjectBacked, Written};
use super::{MULTIPART_PART_SIZE, MULTIPART_THRESHOLD, PutOutcome, StoreInfo, StoreOptions};
use crate::error::{Error, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::limit::LimitStore;
use object_store::path::Path as StorePath;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How a cloud store writes once: a conditional create, or, for an
/// object sent in parts (which has none), a look first.
pub struct Bucket;

impl Flavor for Bucket {
    fn put_once(&self, adapter: &Adapter, full: &StorePath, bytes: bytes::Bytes) -> Written {
        if bytes.len() <= MULTIPART_THRESHOLD {
            return adapter.put_create(full, bytes);
        }
        if adapter.exists(full)? {
            return Ok(PutOutcome::AlreadyExists);
        }
        adapter
            .block_on(put_multipart(adapter.store(), full, bytes))
            .map(|()| PutOutcome::Created)
    }

    fn refused(&self, adapter: &Adapter, _: &str, error: &object_store::Error) -> Option<Error> {
        let text = error.to_string();
        if text.contains("NoSuchBucket") || text.contains("ContainerNotFound") {
            return Some(
                adapter.refusal("the bucket does not exist: create it first, or correct the URL"),
            );
        }
        [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "AuthenticationFailed",
        ]
        .iter()
        .any(|code| text.contains(code))
        .then(|| {
            adapter.refusal("access denied: check the credentials (for S3 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and the bucket's permissions")
        })
    }
}

/// A repository in a cloud bucket.
pub type Cloud = ObjectBacked<Bucket>;

impl ObjectBacked<Bucket> {
    /// `prefix` in `bucket` of the store `scheme` (`s3`, `gs`, `az`).
    pub fn open(
        url: &str,
        scheme: &str,
        bucket: &str,
        prefix: StorePath,
        options: &StoreOptions,
    ) -> Result<Self> {
        let vars = options.variables();
        let retry = retry(options);
        let built = match scheme {
            "s3" => s3_builder(&vars)
                .with_bucket_name(bucket)
                .with_retry(retry)
                .build()
                .map(|s| limited(s, options.connections)),
            "gs" => configured(
                GoogleCloudStorageBuilder::new(),
                &vars,
                "GOOGLE_",
                |b, k, v| Ok(b.with_config(k.parse()?, v)),
            )
            .with_bucket_name(bucket)
            .with_retry(retry)
            .build()
            .map(|s| limited(s, options.connections)),
            _ => configured(MicrosoftAzureBuilder::new(), &vars, "AZURE_", |b, k, v| {
                Ok(b.with_config(k.parse()?, v))
            })
            .with_container_name(bucket)
            .with_retry(retry)
            .build()
            .map(|s| limited(s, options.connections)),
        };
        let store =
            built.map_err(|e| invalid_url(url, format!("cannot configure the store: {e}")))?;
        let adapter = Adapter::new(store, prefix, StoreInfo::remote(url, options))?;
        Ok(ObjectBacked::new(adapter, Bucket))
    }
}

/// object_store's retry layer, as the options ask.
pub(crate) fn retry(options: &StoreOptions) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: options.initial_backoff,
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: options.retries,
        retry_timeout: options.retry_timeout,
    }
}

/// `store` with at most `connections` requests in flight.
pub(crate) fn limited<T: ObjectStore>(store: T, connections: usize) -> Arc<dyn ObjectStore> {
    Arc::new(LimitStore::new(store, connections.max(1)))
}

/// `builder` given every variable that starts with `prefix`, as the
/// provider's `from_env` would take them from the process (a name that is
/// no setting is skipped).
fn configured<B>(
    mut builder: B,
    vars: &BTreeMap<String, String>,
    prefix: &str,
    set: impl Fn(B, &str, &str) -> object_store::Result<B>,
) -> B
where
    B: Clone,
{
    for (key, value) in vars.iter().filter(|(k, _)| k.starts_with(prefix)) {
        if let Ok(next) = set(builder.clone(), &key.to_ascii_lowercase(), value) {
            builder = next;
        }
    }
    builder
}

/// Send `bytes` in parts of [`MULTIPART_PART_SIZE`], all in flight at once
/// (the store's connection limit bounds them); abort on failure so that no
/// orphaned parts are billed.
async fn put_multipart(
    store: &dyn ObjectStore,
    full: &StorePath,
    bytes: bytes::Bytes,
) -> object_store::Result<()> {
    let mut upload = store.put_multipart(full).await?;
    let parts: Vec<_> = (0..bytes.len())
        .step_by(MULTIPART_PART_SIZE)
        .map(|start| {
            let end = (start + MULTIPART_PART_SIZE).min(bytes.len());
            upload.put_part(PutPayload::from(bytes.slice(start..end)))
        })
        .collect();
    let sent = futures::future::try_join_all(parts).await;
    match sent {
        Ok(_) => upload.complete().await.map(|_| ()),
        Err(e) => {
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

/// An S3 builder from the variables (`AWS_*`), completed from the shared
/// credentials and config files (`AWS_SHARED_CREDENTIALS_FILE`,
/// `AWS_CONFIG_FILE`, default `~/.aws/credentials` and `~/.aws/config`, for
/// the profile `AWS_PROFILE` or `default`) where the variables are silent.
fn s3_builder(vars: &BTreeMap<String, String>) -> AmazonS3Builder {
    let mut builder = configured(AmazonS3Builder::new(), vars, "AWS_", |b, k, v| {
        Ok(b.with_config(k.parse()?, v))
    });
    let home = vars.get("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, default: &str| {
        vars.get(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let profile = vars
        .get("AWS_PROFILE")
        .cloned()
        .unwrap_or_else(|| "default".to_owned());
    let mut settings: HashMap<String, String> = HashMap::new();
    // The config file names sections `[profile NAME]` (but `[default]`);
    // the credentials file names them `[NAME]`. Credentials win.
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    for (path, section) in [
        (file("AWS_CONFIG_FILE", "config"), config_section),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile),
    ] {
        let Some(path) = path else { continue };
        let Ok(ini) = ini::Ini::load_from_file(&path) else {
            continue;
        };
        if let Some(props) = ini.section(Some(section.as_str())) {
            for (k, v) in props.iter() {
                settings.insert(k.to_ascii_lowercase(), v.to_owned());
            }
        }
    }
    for (name, key) in [
        ("aws_access_key_id", AmazonS3ConfigKey::AccessKeyId),
        ("aws_secret_access_key", AmazonS3ConfigKey::SecretAccessKey),
        ("aws_session_token", AmazonS3ConfigKey::Token),
        ("region", AmazonS3ConfigKey::Region),
        ("endpoint_url", AmazonS3ConfigKey::Endpoint),
    ] {
        if builder.get_config_value(&key).is_none()
            && let Some(value) = settings.get(name)
        {
            builder = builder.with_config(key, value);
        }
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::super::tests::conformance;
    use super::super::{Backend, MULTIPART_PART_SIZE, MULTIPART_THRESHOLD};
    use super::*;
    use repo_format::Id;
    use repo_format::layout::{FileKind, ObjectName};

    /// A fresh prefix on the S3 test server that scripts/test.sh starts, or
    /// None (and a note) without one, unless VAULT_TEST_S3_REQUIRED=1.
    fn s3_test_url(name: &str) -> Option<String> {
        match std::env::var("VAULT_TEST_S3_BUCKET") {
            Ok(bucket) if !bucket.is_empty() => {
                let n: u64 = rand::random();
                Some(format!("s3://{bucket}/{name}-{n:016x}"))
            }
            _ => {
                assert!(
                    std::env::var("VAULT_TEST_S3_REQUIRED").as_deref() != Ok("1"),
                    "VAULT_TEST_S3_REQUIRED=1 but VAULT_TEST_S3_BUCKET is unset"
                );
                eprintln!("no S3 test server: skipped (scripts/test.sh starts one)");
                None
            }
        }
    }

    #[test]
    fn backend_s3_conforms_lists_past_one_page_and_uploads_in_parts() {
        let Some(url) = s3_test_url("conformance") else {
            return;
        };
        let b = Backend::create(&url).unwrap();
        assert!(b.is_remote());
        conformance(&b);
        // S3 lists at most 1,000 names per page.
        std::thread::scope(|s| {
            for t in 0..8u16 {
                let b = &b;
                s.spawn(move || {
                    for i in (t..1100).step_by(8) {
                        let mut id = [0u8; 32];
                        id[..2].copy_from_slice(&i.to_le_bytes());
                        let name = ObjectName::new(FileKind::Snapshot, Id(id));
                        b.put_once(&name, vec![1]).unwrap();
                    }
                });
            }
        });
        assert_eq!(b.list_objects(FileKind::Snapshot).unwrap().len(), 1100);
        // Larger than the multipart threshold: sent in parts, read back whole
        // and by range, and still put-once.
        let big: Vec<u8> = (0..MULTIPART_THRESHOLD + 3 * MULTIPART_PART_SIZE / 2)
            .map(|i| (i % 251) as u8)
            .collect();
        let name = ObjectName::new(FileKind::Pack, Id([0xb1; 32]));
        assert_eq!(b.put_once(&name, big.clone()).unwrap(), PutOutcome::Created);
        assert_eq!(
            b.put_once(&name, vec![0]).unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(b.size(&name).unwrap(), big.len() as u64);
        assert!(b.get(&name).unwrap()[..] == big[..]);
        let r = 9 << 20..(9 << 20) + 100;
        assert!(b.get_range(&name, r.start as u64..r.end as u64).unwrap()[..] == big[r]);
    }

    #[test]
    fn s3_is_configured_from_the_variables_given_not_the_process() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(
            dir.path().join(".aws/credentials"),
            "[other]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n",
        )
        .unwrap();
        let vars: BTreeMap<String, String> = [
            ("HOME", dir.path().to_str().unwrap()),
            ("AWS_PROFILE", "other"),
            ("AWS_REGION", "eu-west-3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let b = s3_builder(&vars);
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::AccessKeyId)
                .as_deref(),
            Some("FROMFILE")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Region).as_deref(),
            Some("eu-west-3")
        );
    }
}
