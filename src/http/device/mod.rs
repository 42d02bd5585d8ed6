//! The device authorization grant's two endpoints besides the token endpoint (RFC 8628;
//! checklist OPT-4): `POST /device_authorization`, where a device gets its codes, and the
//! verification page `/device`, where the user types the user code and decides. Polling is
//! `http/token/device_code.rs`.

mod authorization;
mod page;

pub use authorization::device_authorization;
pub use page::{decide, verify};
