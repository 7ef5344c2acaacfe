//! How this server's packets become Engine.IO frames: the parser (default or msgpack) and
//! which messages are marked for permessage-deflate. Every packet the server sends passes
//! here, so the rest of the Socket.IO layer writes the default parser's text only.

use bytes::Bytes;

use super::msgpack;
use crate::config::{Config, Parser};
use crate::engineio::packet::Frame;

/// The server-wide encoding settings, copied out of the config once.
#[derive(Debug, Clone, Copy)]
pub struct Wire {
    parser: Parser,
    /// Messages of at least this many bytes are marked for permessage-deflate.
    deflate: Option<usize>,
}

impl Wire {
    pub fn new(config: &Config) -> Wire {
        Wire {
            parser: config.parser,
            deflate: config.per_message_deflate,
        }
    }

    /// The frames of one packet: `text` is what the default parser writes (`4` + the
    /// packet), `attachments` its binary values. `compress` false is socket.io's
    /// `compress(false)`: the message never goes compressed.
    pub fn frames(&self, text: String, attachments: &[Bytes], compress: bool) -> Vec<Frame> {
        match self.parser {
            Parser::Msgpack => {
                vec![self.frame_of(Frame::Binary(msgpack::encode(&text, attachments)), compress)]
            }
            Parser::Default => {
                let mut frames = Vec::with_capacity(1 + attachments.len());
                frames.push(self.frame_of(Frame::raw_text(text), compress));
                frames.extend(
                    attachments
                        .iter()
                        .map(|a| self.frame_of(Frame::Binary(a.clone()), compress)),
                );
                frames
            }
        }
    }

    /// The frame of a packet without binary values (see [`Wire::frames`]).
    pub fn frame(&self, text: String, compress: bool) -> Frame {
        match self.parser {
            Parser::Msgpack => self.frame_of(Frame::Binary(msgpack::encode(&text, &[])), compress),
            Parser::Default => self.frame_of(Frame::raw_text(text), compress),
        }
    }

    fn frame_of(&self, frame: Frame, compress: bool) -> Frame {
        match self.deflate {
            Some(threshold) if compress && frame.len() >= threshold => frame.deflatable(),
            _ => frame,
        }
    }

    /// True when clients send packets as binary messages (the msgpack parser).
    pub fn binary_packets(&self) -> bool {
        self.parser == Parser::Msgpack
    }
}
