//! CORS for browser clients (tus-js-client, Uppy), without breaking tus discovery.
//!
//! tower-http's `CorsLayer` answers *every* OPTIONS request itself as a preflight, so a
//! tus client's `OPTIONS /files/` would never see `Tus-Version` and `Tus-Extension`. This
//! layer sends only real preflights (with `Origin` and `Access-Control-Request-Method`)
//! to `CorsLayer`; other OPTIONS requests reach the routes. Every answer to a request with
//! `Origin` exposes the tus headers to scripts. Knows nothing of uploads.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
    ORIGIN,
};
use http::{HeaderName, HeaderValue, Method, Request, Response};
use tower::{Layer, Service};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};

/// Request headers browsers may send to the tus endpoint.
const ALLOWED_HEADERS: [&str; 11] = [
    "authorization",
    "content-type",
    "tus-resumable",
    "upload-length",
    "upload-defer-length",
    "upload-metadata",
    "upload-offset",
    "upload-concat",
    "upload-checksum",
    "x-http-method-override",
    "x-requested-with",
];

/// Response headers browser scripts may read.
const EXPOSED_HEADERS: [&str; 12] = [
    "location",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    "upload-offset",
    "upload-length",
    "upload-metadata",
    "upload-expires",
    "upload-concat",
    "upload-defer-length",
];

/// The CORS layer of the whole server: any origin, the tus methods and request headers,
/// the tus answer headers exposed.
#[derive(Debug, Clone)]
pub struct TusCors {
    cors: CorsLayer,
}

impl Default for TusCors {
    fn default() -> Self {
        let names = |list: &[&'static str]| {
            list.iter()
                .map(|n| HeaderName::from_static(n))
                .collect::<Vec<_>>()
        };
        Self {
            cors: CorsLayer::new()
                .allow_origin(AllowOrigin::any())
                .allow_methods([
                    Method::GET,
                    Method::HEAD,
                    Method::POST,
                    Method::PATCH,
                    Method::DELETE,
                    Method::OPTIONS,
                ])
                .allow_headers(names(&ALLOWED_HEADERS))
                .expose_headers(names(&EXPOSED_HEADERS))
                .max_age(std::time::Duration::from_secs(24 * 60 * 60)),
        }
    }
}

impl<S: Clone> Layer<S> for TusCors {
    type Service = TusCorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TusCorsService {
            cors: self.cors.layer(inner.clone()),
            plain: inner,
        }
    }
}

/// The service [`TusCors`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct TusCorsService<S> {
    cors: Cors<S>,
    plain: S,
}

fn exposed() -> HeaderValue {
    HeaderValue::from_static(
        "location, tus-resumable, tus-version, tus-extension, tus-max-size, \
         tus-checksum-algorithm, upload-offset, upload-length, upload-metadata, \
         upload-expires, upload-concat, upload-defer-length",
    )
}

impl<S, B, R> Service<Request<B>> for TusCorsService<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.plain.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.cors.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let has_origin = request.headers().contains_key(ORIGIN);
        let options = request.method() == Method::OPTIONS;
        let preflight = options
            && has_origin
            && request
                .headers()
                .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
        if options && !preflight {
            let future = self.plain.call(request);
            return Box::pin(async move {
                let mut response = future.await?;
                if has_origin {
                    let headers = response.headers_mut();
                    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
                    headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed());
                }
                Ok(response)
            });
        }
        let future = self.cors.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if preflight {
                response
                    .headers_mut()
                    .insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed());
            }
            Ok(response)
        })
    }
}
