//! Identifiers shared by the layers that record events: the server's requests and the
//! alerting loop's firings both go to the audit log under one.

/// A random id for a request or an event, echoed in `x-request-id` and the audit log.
pub fn request_id() -> String {
    let mut buf = [0u8; 8];
    let _ = getrandom::fill(&mut buf);
    hex::encode(buf)
}
