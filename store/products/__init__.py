"""Products: the read model (`read`), lists and search (`query`, `text`), writes
(`write`), stock levels (`stock`) and barcode lookup (`barcode`)."""
