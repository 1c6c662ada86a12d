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

const REMEMBER_MAX = 20;

/**
 * Keep `value` under `key` in a section's module-level cache (the last rows seen, shown
 * at once on a re-mount), dropping the oldest entries beyond a few products so that a
 * long session does not hold every product it ever opened.
 */
export function remember(cache, key, value) {
  cache.delete(key);
  cache.set(key, value);
  while (cache.size > REMEMBER_MAX) cache.delete(cache.keys().next().value);
}
