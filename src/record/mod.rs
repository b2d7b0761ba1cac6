//! Record batches.

mod crc32c;
#[doc(hidden)]
pub use crc32c::backends as crc32c_backends;
pub use crc32c::{Crc32c, crc32c, crc32c_append};
