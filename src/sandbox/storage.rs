//! The storage host: answers the presigned URLs that snapshot requests are redirected to,
//! the way S3 answers them (XML errors, `binary/octet-stream` objects).

use std::hash::{DefaultHasher, Hash, Hasher};

use wiremock::{Request, Respond, ResponseTemplate};

use super::catalog::{Catalog, LAST_MODIFIED};

/// The access key id written into the presigned URLs.
const ACCESS_KEY_ID: &str = "AKIA2SANDBOXRSTCLOUD";

/// The signing time written into the presigned URLs.
const AMZ_DATE: &str = "20230427T000000Z";

/// The presigned URL of an object key on the storage host at `storage_url`.
pub(super) fn presigned_url(storage_url: &str, key: &str) -> String {
    format!(
        "{storage_url}/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential={ACCESS_KEY_ID}%2F20230427%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date={AMZ_DATE}&X-Amz-Expires=300&X-Amz-SignedHeaders=host\
         &X-Amz-Signature={}",
        signature(key)
    )
}

/// A fake signature: 64 hex digits that depend only on the object key, so the storage
/// host can tell a URL it issued from an edited one.
fn signature(key: &str) -> String {
    (0u8..4)
        .map(|round| {
            let mut hasher = DefaultHasher::new();
            ("rstcloud-sandbox", round, key).hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

/// Answers every request to the storage host.
pub(super) struct StorageResponder {
    pub(super) catalog: &'static Catalog,
}

impl Respond for StorageResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = request.url.path().trim_start_matches('/');

        // A presigned URL carries its credentials in the query; S3 refuses a second set.
        if request.headers.contains_key("x-api-key")
            || request.headers.contains_key("authorization")
        {
            return s3_error(403, "AccessDenied", "Access Denied", key);
        }

        let signed = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "X-Amz-Signature")
            .is_some_and(|(_, value)| value == signature(key));
        if !signed {
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you \
                 provided. Check your key and signing method.",
                key,
            );
        }

        if request.method != "GET" && request.method != "HEAD" {
            return s3_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
                key,
            );
        }

        match self.catalog.object(key) {
            Some(bytes) => s3_headers(ResponseTemplate::new(200))
                .insert_header("Last-Modified", LAST_MODIFIED)
                .insert_header("ETag", format!("\"{}\"", &signature(key)[..32]))
                .set_body_raw(bytes.to_vec(), "binary/octet-stream"),
            None => s3_error(404, "NoSuchKey", "The specified key does not exist.", key),
        }
    }
}

/// An S3 error answer with its XML body.
fn s3_error(status: u16, code: &str, message: &str, key: &str) -> ResponseTemplate {
    let request_id = request_id();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><Key>{}</Key><RequestId>{request_id}</RequestId>\
         <HostId>sandbox</HostId></Error>",
        xml_escape(key)
    );
    s3_headers(ResponseTemplate::new(status))
        .insert_header("x-amz-request-id", request_id)
        .set_body_raw(body, "application/xml")
}

fn s3_headers(template: ResponseTemplate) -> ResponseTemplate {
    template.insert_header("Server", "AmazonS3")
}

/// Sixteen upper-case hex digits, like S3's request ids.
fn request_id() -> String {
    format!("{:016X}", fastrand::u64(..))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
