"""Rebuild every image embedding with the configured model (`micropim reindex`).

After a model change the index refuses the new model's vectors (`StaleIndex`), so the
rebuild starts by resetting it for the new model, then embeds the stored originals in
batches, each batch written in its own short transaction so that a running server
keeps answering (its image search sees the index fill up) and can still add media.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from PIL import Image

from search import vectors
from search.model import get_model
from store import media
from store.db import writing
from store.errors import BadRequest
from store.images import upright_image

log = logging.getLogger("micropim.search")

BATCH = 32


@dataclass
class Outcome:
    indexed: int = 0
    skipped: int = 0  # stored bytes that no longer decode, or media deleted meanwhile


def reindex(progress: Callable[[int, int], None] = lambda done, total: None) -> Outcome:
    """Reset the index for the current model and embed every media item again;
    `progress(done, total)` is called after each batch."""
    model = get_model()
    total = media.count_media()
    with writing():
        vectors.reset_index(model.dim, model.digest)
    outcome = Outcome()
    done = 0
    progress(0, total)
    for batch in media.all_originals(BATCH):
        decoded: list[tuple[int, int, int, Image.Image]] = []
        for org_id, product_id, media_id, data in batch:
            try:
                decoded.append((org_id, product_id, media_id, upright_image(data, "media")))
            except BadRequest as exc:  # checked when stored; a damaged file is reported
                log.warning("media %d not indexed: %s", media_id, exc.message)
                outcome.skipped += 1
        embeddings = model.embed([image for *_, image in decoded])
        with writing():
            alive = media.existing_ids([media_id for _, _, media_id, _ in decoded])
            for (org_id, product_id, media_id, _), vector in zip(decoded, embeddings):
                if media_id in alive:
                    vectors.add_embedding(org_id, product_id, media_id, vector, model.digest)
                    outcome.indexed += 1
                else:
                    outcome.skipped += 1
        done += len(batch)
        progress(done, max(total, done))
    return outcome
