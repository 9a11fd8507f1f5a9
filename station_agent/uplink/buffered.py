"""A paho client that reads the socket in large blocks.

paho-mqtt 2.x reads every packet with several ``recv`` calls (the command
byte, each byte of the remaining length, then the rest) and, with QoS 1, one
packet per ``select``. For a subscriber that receives thousands of messages
a second (the central loader, docs/CENTRAL.md) those system calls are about
half of its CPU: measured on M1, 10,100 QoS 1 messages/s received and
acknowledged by a bare paho client against 19,300/s by this one
(docs/PERFORMANCE.md, "Central ledger").

:class:`BufferedClient` reads up to :data:`READ_SIZE` bytes at a time and
serves paho's small reads from that block, and after each ``select`` it goes
on reading while the block holds data (otherwise a packet already in the
block would wait for the next byte from the network).

A PUBLISH without properties (what stations send) is decoded directly into
paho's :class:`~paho.mqtt.client.MQTTMessage` (its ``properties`` is None),
or handed as bytes to :attr:`BufferedClient.on_received` when that is set;
one with properties (a topic alias, user properties, ...) or of QoS 2 goes
through paho's own decoder. :meth:`BufferedClient.ack_many` sends the
acknowledgements of a committed batch in one write instead of one each.
Everything else - the protocol, the session, the
acknowledgements, TLS, reconnection - is paho's.

It overrides paho's private ``_sock_recv``, ``_sock_close`` and
``_handle_publish`` and uses its ``_packet_queue``; the tests
(``tests/uplink/test_buffered_client.py``) run it against a real mosquitto, so
a paho release that changes them fails there first (paho is pinned < 3).
"""

from __future__ import annotations

import ssl
import struct
import time
from collections.abc import Callable, Iterable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

#: Bytes asked of the socket at once.
READ_SIZE = 256 * 1024
#: PUBACK: fixed header, remaining length 2, packet id (reason "success",
#: which MQTT 5 lets a PUBACK leave out).
_PUBACK = struct.Struct("!BBH")
_PUBACK_TYPE = 0x40


class BufferedClient(mqtt.Client):
    """A :class:`paho.mqtt.client.Client` whose reads come from a block buffer."""

    _block: bytes = b""
    _at: int = 0
    #: Called as ``on_received(mid, qos, topic, payload, retain)`` (topic and
    #: payload as bytes) for what the lean path decodes, instead of paho's
    #: message object and ``on_message`` dispatch; ``on_message`` still gets
    #: what paho decodes. None: everything goes to ``on_message``.
    on_received: Callable[[int, int, bytes, bytes, bool], None] | None = None

    def _sock_recv(self, bufsize: int) -> bytes:
        block, at = self._block, self._at
        if at >= len(block):
            sock = self._sock
            if sock is None:
                raise ConnectionError("self._sock is None")
            try:
                block = sock.recv(READ_SIZE)
            except ssl.SSLWantReadError as err:
                raise BlockingIOError() from err
            except ssl.SSLWantWriteError as err:
                self._call_socket_register_write()
                raise BlockingIOError() from err
            if not block:
                return block  # the peer closed: paho sees b"" as a lost connection
            self._block, at = block, 0
        self._at = at + bufsize
        return block[at:at + bufsize]

    def _sock_close(self) -> None:
        self._block, self._at = b"", 0
        super()._sock_close()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's ``loop_read``, repeated while the block holds data."""
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None \
                and self._at < len(self._block):
            rc = super().loop_read(max_packets)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        """A QoS 0/1 MQTT 5 PUBLISH with no properties, decoded without paho's
        property machinery; anything else by paho."""
        header: int = self._in_packet["command"]
        packet: bytes | bytearray = self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        if self._protocol != mqtt.MQTTv5 or qos == 2 or len(packet) < 3:
            return super()._handle_publish()
        at = 2 + int.from_bytes(packet[:2], "big")
        topic = bytes(packet[2:at])
        mid = 0
        if qos:
            mid = int.from_bytes(packet[at:at + 2], "big")
            at += 2
        if not topic or at >= len(packet) or packet[at] != 0:
            return super()._handle_publish()
        payload = bytes(memoryview(packet)[at + 1:])
        if self.on_received is not None:
            self.on_received(mid, qos, topic, payload, bool(header & 0x01))
            return MQTTErrorCode.MQTT_ERR_SUCCESS if qos == 0 or self._manual_ack \
                else self._send_puback(mid)
        message = mqtt.MQTTMessage(mid=mid, topic=topic)
        message.dup = bool(header & 0x08)
        message.qos = qos
        message.retain = bool(header & 0x01)
        message.payload = payload
        message.timestamp = time.monotonic()
        self._handle_on_message(message)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, acks: Iterable[tuple[int, int]]) -> MQTTErrorCode:
        """Acknowledge received messages, given as ``(mid, qos)`` in the order
        received (manual acknowledgement): the QoS 1 PUBACKs are queued as one
        block, written at once; a QoS 2 message goes through paho's ``ack``."""
        if not self._manual_ack:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        block = bytearray()
        for mid, qos in acks:
            if qos == 1:
                block += _PUBACK.pack(_PUBACK_TYPE, 2, mid)
            elif qos == 2:
                if block:
                    self._packet_queue(_PUBACK_TYPE, bytes(block), 0, 0)
                    block = bytearray()
                self.ack(mid, qos)
        if block:
            return self._packet_queue(_PUBACK_TYPE, bytes(block), 0, 0)
        return MQTTErrorCode.MQTT_ERR_SUCCESS
