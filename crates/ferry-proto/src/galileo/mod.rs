//! GalileoSend: placeholder, filled in by the GalileoSend change.
