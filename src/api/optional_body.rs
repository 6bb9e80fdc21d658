//! A JSON request body that may be left out: `POST /logout` with no body ends the current
//! session, `{"scope":"all"}` every session. poem-openapi's `Json` always wants a body and a
//! `Content-Type`; this extractor wants them only when there is a body, and says so in the spec
//! (`requestBody.required: false`).
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

/// `None` when the request has no body at all.
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Json<T> as Payload>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let data = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        if data.is_empty() {
            return Ok(Self(None));
        }
        match request.content_type() {
            Some(content_type) if <Json<T> as Payload>::check_content_type(content_type) => {}
            Some(content_type) => {
                return Err(ContentTypeError::NotSupported {
                    content_type: content_type.to_owned(),
                }
                .into())
            }
            None => return Err(ContentTypeError::ExpectContentType.into()),
        }
        let invalid = |reason: String| ParseRequestPayloadError { reason };
        let value = serde_json::from_slice(&data).map_err(|err| invalid(err.to_string()))?;
        let value = T::parse_from_json(Some(value)).map_err(|err| invalid(err.into_message()))?;
        Ok(Self(Some(value)))
    }
}
