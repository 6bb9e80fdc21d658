//! `GET /health`: whether the service can reach its database.
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::objects::ApiMessage;
use super::spec::ApiTags;
use crate::auth::AuthService;

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Service health
    ///
    /// 200 when the database answers a query, 503 when it does not.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self, auth: Data<&AuthService>) -> HealthResponse {
        match auth.database_ready().await {
            Ok(()) => HealthResponse::Ok(Json(ApiMessage::success("ok"))),
            Err(err) => {
                tracing::warn!(error = %err, "health check: database unreachable");
                HealthResponse::Unavailable(Json(ApiMessage::failure("Database unavailable")))
            }
        }
    }
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// The service and its database are up.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}
