//! `object_store` against the real S3 server with signature checking on: put, list, get; bad keys are refused.

#![allow(clippy::unwrap_used)] // In tests a panic is the failure report.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use packetpulse_testkit::shared_s3;

#[tokio::test]
async fn puts_lists_and_gets_objects() {
    let s3 = shared_s3().expect("the S3 server must be available: the smoke test needs s3s-fs");
    let bucket = s3.create_unique_bucket("smoke").unwrap();
    assert!(s3.bucket_exists(&bucket));
    let store = s3.object_store(&bucket).unwrap();

    for i in 0..5 {
        let path = Path::from(format!("bronze/day=2024-05-0{i}/part-{i}.json"));
        store
            .put(&path, PutPayload::from(format!("{{\"n\":{i}}}")))
            .await
            .unwrap();
    }
    let mut listed: Vec<String> = store
        .list(Some(&Path::from("bronze")))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(
        listed,
        (0..5)
            .map(|i| format!("bronze/day=2024-05-0{i}/part-{i}.json"))
            .collect::<Vec<_>>()
    );
    let body = store
        .get(&Path::from("bronze/day=2024-05-03/part-3.json"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&body[..], b"{\"n\":3}");
}

#[tokio::test]
async fn a_request_signed_with_the_wrong_secret_is_refused() {
    let s3 = shared_s3().expect("the S3 server must be available");
    let bucket = s3.create_unique_bucket("auth").unwrap();
    let intruder = s3
        .object_store_builder(&bucket)
        .with_secret_access_key("not-the-secret")
        .build()
        .unwrap();
    let error = intruder
        .put(&Path::from("x"), PutPayload::from("x"))
        .await
        .unwrap_err();
    assert!(error.to_string().to_lowercase().contains("signature"), "{error}");
    let honest = s3.object_store(&bucket).unwrap();
    assert!(
        honest
            .list(None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .is_empty(),
        "nothing was written"
    );
}
