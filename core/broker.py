"""The embedded broker of `make run`: kombu's filesystem transport, with messages that appear whole.

kombu writes a message file under its final name and fills it afterwards, and its consumer moves any file with that
name away and parses it, so a consumer that lists the folder between the two reads a partly written message and the
worker dies on the JSON (celery/kombu#1551, still open in kombu 5.7). Here a message is written under a name the
consumer ignores and renamed into place (`os.replace`, atomic within one folder), and a consumer claims a file by
renaming it into the processed folder, on the same file system, so two consumers never both take one message.

settings.py selects this transport (CELERY_BROKER_TRANSPORT) whenever the broker is `filesystem://`.
"""

import contextlib
import logging
import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# A name the consumer never takes for a message: it reads '<stamp>_<id>.<queue>.msg' only.
PARTIAL_PREFIX = ".partial-"
# Files of this folder that were claimed but could not be parsed are kept here for a person to look at.
DAMAGED_FOLDER = "damaged"


def _arrival(name: str) -> tuple[int, str]:
    """Order messages by the milliseconds in their name, as numbers: "999_…" comes before "1000_…"."""
    stamp, _, _ = name.partition("_")
    return (int(stamp) if stamp.isdigit() else -1, name)


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        partial = os.path.join(self.data_folder_out, f"{PARTIAL_PREFIX}{uuid.uuid4()}")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add a message to {self.data_folder_out!r}") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        claimed_folder = self.processed_folder
        os.makedirs(claimed_folder, exist_ok=True)
        for name in sorted(os.listdir(self.data_folder_in), key=_arrival):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(claimed_folder, name)
            try:
                # One rename on one file system: exactly one consumer wins; the others see the file gone.
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except OSError:
                continue
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
                message = loads(bytes_to_str(payload))
            except ValueError:
                # Not a whole message (one written by another program, or a disk that filled up): keep it aside
                # and go on, so one bad file cannot stop the worker.
                damaged = os.path.join(claimed_folder, DAMAGED_FOLDER)
                os.makedirs(damaged, exist_ok=True)
                os.replace(claimed, os.path.join(damaged, name))
                logger.error("broker message %s is not valid JSON; kept in %s", name, damaged)
                continue
            except OSError as exc:
                raise ChannelError(f"Cannot read message {claimed!r}") from exc
            if not self.store_processed:
                os.unlink(claimed)
            return message
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = virtual.BrokerState()  # its own declarations, not those of kombu's transport
