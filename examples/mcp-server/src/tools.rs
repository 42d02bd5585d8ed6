//! The MCP tools: `whoami`, `add`, `admin_stats` (which needs `mcp:admin`), `forecast`
//! (which needs the fine-grained `mcp:weather:forecast`) and `call_backend` (token exchange).

use crate::auth::{CallerToken, Claims};
use crate::exchange::{self, BackendAnswer, BackendSettings};
use crate::{SCOPE_ADMIN, SCOPE_FORECAST};
use axum::http::request::Parts;
use rmcp::handler::server::{tool::Extension, wrapper::Parameters};
use rmcp::{ErrorData, Json, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// The MCP tools. rmcp hands each call the HTTP request's `Parts`, where the middleware put
/// the verified claims and the caller's token.
#[derive(Clone)]
pub(crate) struct Tools {
    started: Instant,
    backend: Option<Arc<BackendSettings>>,
    http: reqwest::Client,
}

impl Tools {
    pub(crate) fn new(backend: Option<BackendSettings>) -> Self {
        Tools {
            started: Instant::now(),
            backend: backend.map(Arc::new),
            http: reqwest::Client::new(),
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct ForecastArgs {
    city: String,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Forecast {
    city: String,
    forecast: &'static str,
}

#[derive(Serialize, schemars::JsonSchema)]
struct Stats {
    uptime_seconds: u64,
}

fn claims(parts: &Parts) -> Result<&Claims, ErrorData> {
    (parts.extensions.get::<Claims>())
        .ok_or_else(|| ErrorData::internal_error("no verified token", None))
}

/// The name clients show for this server (`serverInfo.name` of `initialize`); rmcp's default
/// would be rmcp's own crate name.
pub const SERVER_NAME: &str = "tollgate-example-mcp-server";

#[tool_handler(
    name = "tollgate-example-mcp-server",
    instructions = "An example MCP server protected by Tollgate: whoami, add, admin_stats \
                    (needs mcp:admin) and call_backend"
)]
impl ServerHandler for Tools {}

#[tool_router]
impl Tools {
    #[tool(description = "Who the access token belongs to: its sub, client_id and scope")]
    fn whoami(&self, Extension(parts): Extension<Parts>) -> Result<Json<Claims>, ErrorData> {
        claims(&parts).cloned().map(Json)
    }

    #[tool(description = "Adds two integers")]
    fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> Result<String, ErrorData> {
        let sum = a
            .checked_add(b)
            .ok_or_else(|| ErrorData::invalid_params("the sum overflows", None))?;
        Ok(sum.to_string())
    }

    #[tool(description = "Server statistics (needs the mcp:admin scope)")]
    fn admin_stats(&self, Extension(parts): Extension<Parts>) -> Result<Json<Stats>, ErrorData> {
        // The middleware answered 403 already; checking here too keeps the tool safe if it is
        // ever reached another way.
        if !claims(&parts)?.has_scope(SCOPE_ADMIN) {
            return Err(ErrorData::invalid_request(
                "admin_stats needs the mcp:admin scope",
                None,
            ));
        }
        Ok(Json(Stats {
            uptime_seconds: self.started.elapsed().as_secs(),
        }))
    }

    #[tool(description = "Tomorrow's weather for a city (needs the mcp:weather:forecast scope)")]
    fn forecast(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(ForecastArgs { city }): Parameters<ForecastArgs>,
    ) -> Result<Json<Forecast>, ErrorData> {
        if !claims(&parts)?.has_scope(SCOPE_FORECAST) {
            return Err(ErrorData::invalid_request(
                "forecast needs the mcp:weather:forecast scope",
                None,
            ));
        }
        // A demo: the same answer for every city.
        Ok(Json(Forecast {
            city,
            forecast: "sunny, 21 °C",
        }))
    }

    #[tool(
        description = "Calls the backend API on the caller's behalf: exchanges the caller's \
                          token at Tollgate for one for the API (RFC 8693) and returns what \
                          the API answers"
    )]
    async fn call_backend(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<Json<BackendAnswer>, ErrorData> {
        let Some(backend) = &self.backend else {
            return Err(ErrorData::internal_error(
                "no backend API is set up (BACKEND_URL)",
                None,
            ));
        };
        let token = (parts.extensions.get::<CallerToken>())
            .ok_or_else(|| ErrorData::internal_error("no caller token", None))?;
        let answer = exchange::call_backend(&self.http, backend, &token.0).await;
        answer
            .map(Json)
            .map_err(|why| ErrorData::internal_error(why, None))
    }
}
