// Shared by the product page's media, variants and translations sections.

/**
 * Whether the section that started a write has been replaced meanwhile (its ctx.signal
 * aborted: another section's ctx.refresh() re-rendered the page, or the user left).
 * Writes are not aborted with the page, since a save the user asked for should complete;
 * when one lands after its section was replaced, the page is reloaded to show it, if the
 * user is still on this product.
 */
export function sectionGone(ctx, productId) {
  if (!ctx.signal.aborted) return false;
  if (new RegExp(`^#/products/${productId}(\\?|$)`).test(location.hash)) ctx.refresh();
  return true;
}

/** "1.4 MB" for a byte count. */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
