//! What a proxy in front of a failing server sends: an HTML page, not JSON.

/// The error page a proxy in front of the server (nginx, here) sends when the server
/// behind it fails: what a client gets instead of JSON.
pub fn proxy_error_page(status: u16, fault: &str) -> String {
    let reason = http_reason(status);
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n\
         </body>\r\n<!-- injected by Tollgate: fault '{fault}' -->\r\n</html>\r\n"
    )
}

fn http_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => "Error",
    }
}
