//! The HTTP pieces every Ferry server shares, the full server and the edge alike: errors as
//! JSON, admission control for prediction requests (body limits, row limits, requests in
//! flight), a refused request as its 422 answer, the request id every answer carries, and
//! connections that close without resetting a client still sending its body.

mod admission;
mod error;
mod linger;
mod refusal;
mod request;

pub use admission::{InFlight, PredictLimits, check_declared, check_rows, read_rows};
pub use error::{ApiError, json_errors};
pub use linger::{LINGER_FOR, Lingering, LingeringListener};
pub use refusal::{RejectedRows, refused};
pub use request::with_request_id;
