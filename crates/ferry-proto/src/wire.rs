//! HTTP/1.1 head codec: placeholder while the tus change is written.
