//! The guest's stderr: the host's stderr, written a whole line at a time.
//!
//! A wasip1 guest's `eprintln!` reaches the host as one write (and flush)
//! per formatting piece — some fifty for a JSON log line, each a `write(2)`
//! when passed straight through. (spin-scim's component writes its log line
//! in one piece; other guests may not.) Buffering up to the end of a line
//! turns that into one system call per line, and lines of concurrent
//! requests no longer interleave mid-line. Text is written as soon as its line ends; a
//! final line without a newline is written when the instance ends (or once
//! [`MAX_PENDING`] bytes are pending). `flush` does not write a partial
//! line: the preview1 adapter flushes after every piece.

use std::io::Write;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Most bytes held back waiting for the end of a line.
pub const MAX_PENDING: usize = 16 * 1024;

/// Largest single write accepted (as the inherited stream allows).
const WRITE_PERMIT: usize = 64 * 1024;

/// `WasiCtxBuilder::stderr` for the guest: the host's stderr, line-buffered.
pub struct GuestStderr;

impl IsTerminal for GuestStderr {
    fn is_terminal(&self) -> bool {
        std::io::IsTerminal::is_terminal(&std::io::stderr())
    }
}

impl StdoutStream for GuestStderr {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineBuffered::new(std::io::stderr()))
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // WASIp3 streams (unused by Spin components): unbuffered.
        StdoutStream::async_stream(&std::io::stderr())
    }
}

/// An output stream that writes to `sink` one or more whole lines at a
/// time.
pub struct LineBuffered<W: Write + Send + 'static> {
    sink: W,
    pending: Vec<u8>,
}

impl<W: Write + Send + 'static> LineBuffered<W> {
    pub fn new(sink: W) -> Self {
        LineBuffered {
            sink,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> StreamResult<()> {
        let result = self.sink.write_all(&self.pending[..upto]);
        self.pending.drain(..upto);
        result.map_err(|e| {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                StreamError::Closed
            } else {
                StreamError::LastOperationFailed(e.into())
            }
        })
    }
}

impl<W: Write + Send + 'static> OutputStream for LineBuffered<W> {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.pending.extend_from_slice(&bytes);
        if let Some(nl) = self.pending.iter().rposition(|&b| b == b'\n') {
            self.emit(nl + 1)?;
        }
        if self.pending.len() >= MAX_PENDING {
            self.emit(self.pending.len())?;
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl<W: Write + Send + 'static> Pollable for LineBuffered<W> {
    async fn ready(&mut self) {}
}

impl<W: Write + Send + 'static> Drop for LineBuffered<W> {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.sink.write_all(&self.pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records each `write` call separately.
    #[derive(Clone, Default)]
    struct Calls(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn strings(calls: &Calls) -> Vec<String> {
        calls
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|c| String::from_utf8(c.clone()).unwrap())
            .collect()
    }

    #[test]
    fn writes_whole_lines() {
        let calls = Calls::default();
        let mut s = LineBuffered::new(calls.clone());
        for piece in ["{", "\"a\"", ":", "1", "}", "\n", "next", " line"] {
            s.write(Bytes::from(piece)).unwrap();
            s.flush().unwrap();
        }
        assert_eq!(strings(&calls), vec!["{\"a\":1}\n"]);
        s.write(Bytes::from("\nthird\nfour")).unwrap();
        assert_eq!(strings(&calls), vec!["{\"a\":1}\n", "next line\nthird\n"]);
        // The unterminated rest is written when the instance ends.
        drop(s);
        assert_eq!(
            strings(&calls),
            vec!["{\"a\":1}\n", "next line\nthird\n", "four"]
        );
    }

    #[test]
    fn long_unterminated_output_is_not_held_back() {
        let calls = Calls::default();
        let mut s = LineBuffered::new(calls.clone());
        s.write(Bytes::from(vec![b'x'; MAX_PENDING - 1])).unwrap();
        assert!(strings(&calls).is_empty());
        s.write(Bytes::from("yz")).unwrap();
        assert_eq!(strings(&calls).concat().len(), MAX_PENDING + 1);
        drop(s);
        assert_eq!(strings(&calls).concat().len(), MAX_PENDING + 1);
    }

    #[test]
    fn broken_pipe_closes_the_stream() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut s = LineBuffered::new(Broken);
        s.write(Bytes::from("no newline")).unwrap();
        assert!(matches!(
            s.write(Bytes::from("\n")),
            Err(StreamError::Closed)
        ));
    }
}
