"""MicroPIM: a self-hosted product information management service.

`make_app()` builds the Tornado application (tests use it too); `main()` is the
command line: `serve`, `create-key`, `keys`, `revoke-key`, `backup` and `reindex`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shlex
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, NoReturn, Sequence

import peewee
import tornado.ioloop
import tornado.netutil

from handlers.app import Application
from handlers.attributes import AttributeHandler, AttributeListHandler
from handlers.base import NotFoundHandler
from handlers.categories import (
    CategoryChildrenHandler,
    CategoryHandler,
    CategoryListHandler,
    CategoryMoveHandler,
    CategoryProductHandler,
    CategoryProductsHandler,
    CategoryTreeHandler,
)
from handlers.channels import ChannelsHandler
from handlers.events import EventFeedHandler
from handlers.media import (
    ImageSearchHandler,
    MediaFileHandler,
    ProductMediaHandler,
    ProductMediaListHandler,
    ProductMediaOriginalHandler,
    SimilarProductsHandler,
)
from handlers.imports import routes as import_routes
from handlers.openapi import docs_routes
from handlers.products import (
    ProductBarcodeHandler,
    ProductHandler,
    ProductListHandler,
    ProductStockHandler,
)
from handlers.ratelimit import RateLimiter
from handlers.reference import ReferenceHandler, ReferenceListHandler
from handlers.server import LimitedHTTPServer, ServerLimits, default_max_connections
from handlers.variants import VariantHandler, VariantListHandler
from handlers.translations import TranslationHandler, TranslationListHandler
from handlers.ui import UIFileHandler, UIPageHandler, missing_files, static_root
from handlers.webhooks import routes as webhook_routes
from search.fetch import Fetcher
from search.model import ImageModels
from search.pipeline import Images
from search.webhooks import WebhookSender
from store.db import Database, open_database
from store.urls import MediaUrls

__version__ = "0.1.0"  # setup.cfg reads it from here: `micropim --version` and the wheel agree

log = logging.getLogger("micropim")

# The largest body a request may send; each handler caps its own below it, and the bulk
# routes raise it for themselves to --bulk-limit-mb.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: How long a Python thread holds the interpreter before another waiting one may take it
#: (CPython's default is 5 ms). A bulk import's threads run mostly Python; the event
#: loop waits for the interpreter after each of a request's system calls, so with the
#: default a read during an import waits up to 5 ms several times over (see the README's
#: "Measured facts", bench/bulk.py).
SWITCH_INTERVAL = 0.001
ID = r"([0-9]{1,19})"
#: How often a running server removes the events older than --event-retention-days
#: (and once at start).
EVENT_RETENTION_EVERY_S = 3600


@dataclass
class Settings:
    """What an application is made from (`make_app`); `serve` fills it from the command line."""

    database: str = "./micropim.db"  # created and migrated when missing
    read_limit: int = 1200
    write_limit: int = 300
    public_url: str = "http://127.0.0.1:8080"
    allow_private_urls: bool = False
    fetch_timeout: float = 15.0  # seconds for a whole media fetch by URL
    clock: Callable[[], float] = time.monotonic  # the rate limiter's and the key-use throttle's
    query_threads: int = 2
    image_model: str | None = None  # an operator's ONNX image model; None = built-in
    # Where the built-in model is built once and kept; None: the user's cache directory
    # (search.model.user_cache_dir), whatever database the server is pointed at.
    model_cache: str | None = None
    # The model provider itself, when one is shared (tests load the model once per run);
    # None: one made from `image_model` and `model_cache`.
    image_models: ImageModels | None = None
    bulk_limit_mb: int = 200  # the largest feed `POST /api/products/bulk` and imports take
    event_retention_days: int = 30  # how long the change feed keeps an event
    webhook_retry_base: float = 10.0  # seconds before a failed webhook delivery's first retry


def routes() -> list[tuple[Any, ...]]:
    """The routing table: every API path and the handler that answers it."""
    ui = os.path.join(static_root(), "ui")
    table: list[tuple[Any, ...]] = [
        (r"/api/products", ProductListHandler),
        *import_routes(ID),  # /api/products/bulk and /export before /api/products/{id}
        (r"/api/products/barcode/([^/]+)", ProductBarcodeHandler),
        (r"/api/products/image-search", ImageSearchHandler),
        (rf"/api/products/{ID}", ProductHandler),
        (rf"/api/products/{ID}/stock", ProductStockHandler),
        (rf"/api/products/{ID}/similar", SimilarProductsHandler),
        (rf"/api/products/{ID}/translations", TranslationListHandler),
        (rf"/api/products/{ID}/translations/([^/]+)", TranslationHandler),
        (r"/api/channels", ChannelsHandler),
        (r"/api/events", EventFeedHandler),
        *webhook_routes(ID),
        # Categories: `/api/categories/{id}` after its sub-resources, so that a walk of
        # the table (tests/test_contract.py) deletes the sample category last.
        (r"/api/categories", CategoryListHandler),
        (r"/api/categories/tree", CategoryTreeHandler),
        (rf"/api/categories/{ID}/children", CategoryChildrenHandler),
        (rf"/api/categories/{ID}/move", CategoryMoveHandler),
        (rf"/api/categories/{ID}/products", CategoryProductsHandler),
        (rf"/api/categories/{ID}/products/{ID}", CategoryProductHandler),
        (rf"/api/categories/{ID}", CategoryHandler),
        (r"/api/product-attributes", AttributeListHandler),
        (rf"/api/product-attributes/{ID}", AttributeHandler),
        (rf"/api/products/{ID}/variants", VariantListHandler),
        (rf"/api/products/{ID}/variants/{ID}", VariantHandler),
        (rf"/api/products/{ID}/media", ProductMediaListHandler),
        # The sub-resource before its item, so that a walk of the table deletes last.
        (rf"/api/products/{ID}/media/{ID}/original", ProductMediaOriginalHandler),
        (rf"/api/products/{ID}/media/{ID}", ProductMediaHandler),
        # Public files, outside /api/: no key, no envelope (see handlers.media).
        (r"/media/(.*)", MediaFileHandler),
        # The web UI (static/ui/): its page at `/`, its files under `/ui/`; no key.
        (r"/", UIPageHandler, {"path": ui}),
        (r"/ui/(.*)", UIFileHandler, {"path": ui}),
    ]
    for path, resource in (
        ("brands", "brands"),
        ("suppliers", "suppliers"),
        ("vat-rates", "vat_rates"),
        ("warehouses", "warehouses"),
    ):
        table.append((rf"/api/{path}", ReferenceListHandler, {"resource": resource}))
        table.append((rf"/api/{path}/{ID}", ReferenceHandler, {"resource": resource}))
    table.extend(docs_routes())  # /api/openapi.json and the /docs page
    return table


def make_app(settings: Settings | None = None) -> Application:
    """The application and its context: the database (opened, migrated), the image
    model, the fetcher, the rate limiter. `app.close()` releases them."""
    settings = settings or Settings()
    public_url = settings.public_url.rstrip("/")
    db = open_database(settings.database, urls=MediaUrls(public_url), query_threads=settings.query_threads,
                       clock=settings.clock)
    models = settings.image_models or ImageModels(settings.image_model, settings.model_cache)
    fetcher = Fetcher(timeout=settings.fetch_timeout, allow_private=settings.allow_private_urls)
    return Application(
        routes(),
        db=db,
        images=Images(db, models, fetcher),
        rate_limiter=RateLimiter(settings.read_limit, settings.write_limit, settings.clock),
        public_url=public_url,
        bulk_limit_bytes=settings.bulk_limit_mb * 1024 * 1024,
        event_retention_days=settings.event_retention_days,
        webhooks=WebhookSender(db, allow_private=settings.allow_private_urls, retry_base=settings.webhook_retry_base),
        default_handler_class=NotFoundHandler,
    )


# ---- command line --------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"micropim: error: {message}\n")


def fail(message: str, status: int = 2) -> NoReturn:
    """Stop with a one-line error: status 2 for bad arguments, as argparse does."""
    print(f"micropim: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"MICROPIM_{name}", default)


def _flag(name: str) -> bool:
    raw = (_env(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    fail(f"MICROPIM_{name}: expected true or false, got {raw!r}")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0.001 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0.001 and 3600, got {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 1 and 65535, got {text!r}")
    return value


def _help(text: str, env: str, default: str) -> str:
    """An option's help: what it does, the variable it also reads and its default, so
    `--help` answers what happens when the option is left out."""
    return f"{text} (env MICROPIM_{env}; default: {default})"


#: `--expires` units: a key's lifetime in days or hours.
DURATION_UNITS = {"d": 86400, "h": 3600}
MAX_EXPIRY_DAYS = 36500


def _duration(text: str) -> int:
    """`90d`, `12h`: a positive whole number of days or hours, in seconds."""
    raw = text.strip().lower()
    number, unit = raw[:-1], raw[-1:]
    if unit not in DURATION_UNITS or not (number.isascii() and number.isdigit()) or int(number) < 1:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90d or 12h, got {text!r}")
    seconds = int(number) * DURATION_UNITS[unit]
    if seconds > MAX_EXPIRY_DAYS * 86400:
        raise argparse.ArgumentTypeError(f"at most {MAX_EXPIRY_DAYS}d, got {text!r}")
    return seconds


def _scope(text: str) -> str:
    from store.orgs import SCOPES

    if text not in SCOPES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(SCOPES)}, got {text!r}")
    return text


def _key_id(text: str) -> int:
    try:
        return _positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a key id (a positive integer, see `micropim keys`), "
                                         f"got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="micropim", description="MicroPIM product information server.",
                     epilog="`micropim COMMAND --help` lists a command's options.")
    parser.add_argument("--version", action="version", version=f"micropim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands",
                                     parser_class=_Parser)

    def db_option(sub: argparse.ArgumentParser, *, created: bool) -> None:
        what = "SQLite database file" + (", created and migrated if missing" if created
                                         else ", which must exist (serve creates it)")
        sub.add_argument("--db", default=_env("DB", "./micropim.db"), metavar="FILE",
                         help=_help(what, "DB", "./micropim.db"))

    def model_options(sub: argparse.ArgumentParser, note: str) -> None:
        sub.add_argument("--image-model", default=_env("IMAGE_MODEL"), metavar="PATH",
                         help=_help("ONNX image model for image search instead of the built-in "
                                    f"EfficientNet-Lite0{note}", "IMAGE_MODEL", "the built-in model"))
        sub.add_argument("--model-cache", default=_env("MODEL_CACHE"), metavar="DIR",
                         help=_help("directory the built-in model is built into once and kept in",
                                    "MODEL_CACHE", "$XDG_CACHE_HOME/micropim, else ~/.cache/micropim"))

    serve = commands.add_parser("serve", help="run the HTTP server (creates the database on first start)",
                                description="Run the HTTP server: the REST API, the web UI at / "
                                            "and the API reference at /docs.")
    db_option(serve, created=True)
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"), metavar="H",
                       help=_help("address to listen on", "HOST", "127.0.0.1"))
    serve.add_argument("--port", type=_port, default=_env("PORT", "8080"), metavar="N",
                       help=_help("port to listen on", "PORT", "8080"))
    serve.add_argument("--public-url", default=_env("PUBLIC_URL"), metavar="URL",
                       help=_help("base URL clients reach this server at, used in media URLs",
                                  "PUBLIC_URL", "http://HOST:PORT"))
    serve.add_argument("--read-limit", type=_positive, default=_env("READ_LIMIT", "1200"), metavar="N",
                       help=_help("read requests (GET, HEAD) per minute per client IP",
                                  "READ_LIMIT", "1200"))
    serve.add_argument("--write-limit", type=_positive, default=_env("WRITE_LIMIT", "300"), metavar="N",
                       help=_help("write requests per minute per client IP", "WRITE_LIMIT", "300"))
    serve.add_argument("--allow-private-urls", action="store_true", default=None,
                       help=_help("let media URLs point at loopback and private hosts (tests and "
                                  "intranets only)", "ALLOW_PRIVATE_URLS", "off"))
    serve.add_argument("--trust-proxy", action="store_true", default=None,
                       help=_help("take the client IP from X-Forwarded-For/X-Real-Ip (only behind "
                                  "your own reverse proxy)", "TRUST_PROXY", "off"))
    serve.add_argument("--access-log", action="store_true", default=None,
                       help=_help("log every request, not only failed ones", "ACCESS_LOG",
                                  "off (only 4xx and 5xx are logged)"))
    model_options(serve, "")
    serve.add_argument("--bulk-limit-mb", type=_positive, default=_env("BULK_LIMIT_MB", "200"), metavar="N",
                       help=_help("largest body of a bulk import (POST /api/products/bulk, /api/imports), in MB",
                                  "BULK_LIMIT_MB", "200"))
    serve.add_argument("--event-retention-days", type=_positive, default=_env("EVENT_RETENTION_DAYS", "30"),
                       metavar="N", help=_help("days the change feed (GET /api/events) keeps an event",
                                               "EVENT_RETENTION_DAYS", "30"))
    serve.add_argument("--webhook-retry-base", type=_seconds, default=_env("WEBHOOK_RETRY_BASE", "10"),
                       metavar="SECONDS", help=_help("wait before a failed webhook delivery's first retry; each"
                                                     " next waits 3 times longer, 8 tries in all",
                                                     "WEBHOOK_RETRY_BASE", "10"))
    serve.add_argument("--max-connections", type=_positive, default=_env("MAX_CONNECTIONS"), metavar="N",
                       help=_help("open connections at most; past it a new one is answered 503",
                                  "MAX_CONNECTIONS", f"from the file-descriptor limit, {default_max_connections()} here"))
    serve.add_argument("--demo", action="store_true", default=None,
                       help=_help("create the demo catalog if missing and print an API key for it",
                                  "DEMO", "off"))

    key = commands.add_parser("create-key", help="create an API key for an organization",
                              description="Create the organization if new and an API key for it; "
                                          "stdout's last line is the key alone.")
    db_option(key, created=False)
    key.add_argument("--org", default=_env("ORG"), required=_env("ORG") is None, metavar="NAME",
                     help=_help("organization name, created if new", "ORG", "none, required"))
    key.add_argument("--scope", type=_scope, default=_env("SCOPE", "write"), metavar="{read,write}",
                     help=_help("read: only requests that change nothing; write: everything", "SCOPE", "write"))
    key.add_argument("--expires", type=_duration, default=_env("EXPIRES"), metavar="DURATION",
                     help=_help("refuse the key after this long, e.g. 90d or 12h", "EXPIRES", "never"))

    keys = commands.add_parser("keys", help="list an organization's API keys (never the keys themselves)")
    db_option(keys, created=False)
    keys.add_argument("--org", default=_env("ORG"), required=_env("ORG") is None, metavar="NAME",
                      help=_help("organization name", "ORG", "none, required"))

    revoke = commands.add_parser("revoke-key", help="revoke an API key by its id (see `micropim keys`)")
    revoke.add_argument("id", type=_key_id, help="the key's id, from `micropim keys`")
    db_option(revoke, created=False)

    reindex = commands.add_parser("reindex", help="rebuild every image embedding (after a model change)",
                                  description="Rebuild every image embedding with the given model.")
    db_option(reindex, created=False)
    model_options(reindex, "; serve must use the same")

    backup = commands.add_parser("backup", help="write a consistent copy of the database",
                                 description="Write a consistent copy of the database, safe while "
                                             "serve runs.")
    backup.add_argument("dest", help="file to write the copy to (replaced if it exists)")
    db_option(backup, created=False)

    feed_kinds = ("products", "categories")
    imp = commands.add_parser("import", help="import products (or categories) from a CSV or NDJSON file")
    imp.add_argument("file", help="the file: .csv, .ndjson or .jsonl (or say which with --format)")
    db_option(imp, created=False)
    imp.add_argument("--org", default=_env("ORG"), required=_env("ORG") is None, metavar="NAME",
                     help=_help("the organization to import into", "ORG", "none, required"))
    imp.add_argument("--format", choices=("csv", "ndjson"), default=_env("FORMAT"),
                     help=_help("the file's format", "FORMAT", "from the file name"))
    imp.add_argument("--kind", choices=feed_kinds, default=_env("KIND", "products"),
                     help=_help("what the file holds", "KIND", "products"))
    imp.add_argument("--dry-run", action="store_true", default=None,
                     help=_help("check every line, write nothing", "DRY_RUN", "off"))
    imp.add_argument("--create-references", action="store_true", default=None,
                     help=_help("create the brands, suppliers, categories, VAT rates and warehouses the"
                                " lines name that do not exist", "CREATE_REFERENCES", "off"))
    imp.add_argument("--allow-private-urls", action="store_true", default=None,
                     help=_help("let image URLs point at loopback and private hosts (intranets only)",
                                "ALLOW_PRIVATE_URLS", "off"))

    exp = commands.add_parser("export", help="export products (or categories) to a CSV or NDJSON file")
    exp.add_argument("file", help="the file to write (replaced if it exists); - writes to stdout")
    db_option(exp, created=False)
    exp.add_argument("--org", default=_env("ORG"), required=_env("ORG") is None, metavar="NAME",
                     help=_help("the organization to export", "ORG", "none, required"))
    exp.add_argument("--format", choices=("csv", "ndjson"), default=_env("FORMAT"),
                     help=_help("the file's format", "FORMAT", "from the file name, else ndjson"))
    exp.add_argument("--kind", choices=feed_kinds, default=_env("KIND", "products"),
                     help=_help("what to export", "KIND", "products"))

    feed = commands.add_parser("events", help="print an organization's change events as NDJSON",
                               description="Print the change feed (GET /api/events) as NDJSON, one event"
                                           " per line, oldest first; with --follow, keep printing new ones.")
    db_option(feed, created=False)
    feed.add_argument("--org", default=_env("ORG"), required=_env("ORG") is None, metavar="NAME",
                      help=_help("the organization whose events to print", "ORG", "none, required"))
    feed.add_argument("--after", type=_event_id, default=_env("AFTER"), metavar="ID",
                      help=_help("only the events after this id", "AFTER", "from the oldest kept"))
    feed.add_argument("--type", default=_env("TYPE"), metavar="PATTERNS",
                      help=_help("only these types: product.updated, product.*, ... separated by commas",
                                 "TYPE", "every type"))
    feed.add_argument("--follow", action="store_true", default=None,
                      help=_help("keep waiting for new events and print them as they commit (Ctrl-C stops)",
                                 "FOLLOW", "off"))
    return parser


def _event_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected an event id (0 or more), got {text!r}")
    return int(text)


def _existing(path: str) -> Database:
    """The database at `path`, migrated; a missing one is an error saying how to make
    it, so that a mistyped --db never leaves a new empty database behind."""
    if path != ":memory:" and not os.path.exists(path):
        fail(f"no database at {path} (point --db at one, or create it: micropim serve --db {shlex.quote(path)})")
    try:
        return open_database(path)
    except Exception as exc:  # the driver's errors say what is wrong with the path
        fail(f"cannot open database {path}: {exc}")


def _stop_on_sigterm() -> list[int]:
    """Until the demo seed is done, SIGTERM (systemctl stop, docker stop) stops it as
    Ctrl-C does: the seed's `finally` shuts its drawing workers down instead of leaving
    them running under PID 1. Answers a list that receives the signal's number."""
    received: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    return received


def _demo_count() -> int:
    """Simple products in the demo: 300. MICROPIM_DEMO_COUNT is for tests only (a small
    demo seeds in seconds); it is not a setting."""
    raw = _env("DEMO_COUNT")
    if raw is None:
        return 300
    try:
        return _positive(raw)
    except argparse.ArgumentTypeError as exc:
        fail(f"MICROPIM_DEMO_COUNT: {exc}")


SERVE_FLAGS = ("allow_private_urls", "trust_proxy", "access_log", "demo")


def cmd_serve(args: argparse.Namespace) -> int:
    # Environment flags are read here, not when the parser is built, so that a bad
    # MICROPIM_DEMO does not break `create-key` or `backup`.
    for name in SERVE_FLAGS:
        if getattr(args, name) is None:
            setattr(args, name, _flag(name.upper()))
    if not args.access_log:
        # Tornado logs 4xx as warnings and 5xx as errors; successful requests cost
        # ~0.07 ms each to log, a fifth of a product read, so they are opt-in.
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
    if args.image_model is not None and not os.path.isfile(args.image_model):
        fail(f"argument --image-model: no such file {args.image_model}")
    missing = missing_files()
    if missing:  # an install without the package data: / and /docs would not work
        fail(f"the web UI files are missing ({missing[0]}); reinstall micropim", status=1)
    # The port before the database: a taken port must not cost a migration (or leave
    # a new database behind); the sockets are bound now and served once ready.
    try:
        sockets = tornado.netutil.bind_sockets(args.port, args.host)
    except OSError as exc:
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", status=1)
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    settings = Settings(database=args.db, read_limit=args.read_limit, write_limit=args.write_limit,
                        public_url=public_url, allow_private_urls=args.allow_private_urls,
                        image_model=args.image_model, model_cache=args.model_cache,
                        bulk_limit_mb=args.bulk_limit_mb, event_retention_days=args.event_retention_days,
                        webhook_retry_base=args.webhook_retry_base)
    try:
        try:
            app = make_app(settings)
        except (peewee.PeeweeException, OSError) as exc:  # the driver's errors say what is wrong
            fail(f"cannot open database {args.db}: {exc}")
        try:
            return _serve(app, args, public_url, sockets)
        finally:
            app.close()
    finally:
        for sock in sockets:  # already closed when the server stopped; closing twice is fine
            sock.close()


def _serve(app: Application, args: argparse.Namespace, public_url: str, sockets: list[socket.socket]) -> int:
    from store import imports

    with app.db.writing():
        if imports.mark_interrupted(app.db):  # jobs the previous run of the server left
            log.info("import jobs left unfinished by the last run are marked interrupted")
    app.remove_old_events_now()
    app.images.index.start()  # photo search is ready a few seconds later (search/vectors.py)
    if args.demo:
        from search import demo

        # The photos are embedded with the model the server searches with.
        stopped = _stop_on_sigterm()
        try:
            demo.seed(app.db, app.images.models, count=_demo_count(), progress=demo.Progress(sys.stdout))
        except KeyboardInterrupt:  # what is written stays; the next start adds the rest
            print("\nInterrupted: the next `serve --demo` finishes the demo catalog.", flush=True)
            return 128 + (stopped[0] if stopped else signal.SIGINT)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = LimitedHTTPServer(app, ServerLimits(max_connections=args.max_connections),
                               xheaders=args.trust_proxy, max_body_size=MAX_BODY_BYTES)

    async def run() -> None:
        # Handlers first: a script may send SIGTERM as soon as it reads "listening",
        # and that must stop the server cleanly rather than kill it.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server.add_sockets(sockets)  # inside the running loop, so they belong to it
        retention = tornado.ioloop.PeriodicCallback(app.remove_old_events, EVENT_RETENTION_EVERY_S * 1000)
        retention.start()
        await app.webhooks.start()
        print(f"MicroPIM listening on {public_url} (database {os.path.abspath(args.db)})", flush=True)
        if args.demo:
            from search import demo

            key = demo.issue_key(app.db, demo.demo_org_id(app.db))  # replaces the previous demo key
            print(f"Demo API key: {key}")
            print(f"Try: curl -H 'X-API-KEY: {key}' {public_url}/api/products")
            print(f"Web UI: {public_url}/ (sign in with the key); API reference: {public_url}/docs",
                  flush=True)
        await stop.wait()
        retention.stop()
        server.stop()
        await app.webhooks.stop()

    asyncio.run(run())
    return 0


def cmd_create_key(args: argparse.Namespace) -> int:
    from store import orgs

    if not args.org.strip():  # checked before the database is opened
        fail("argument --org: must not be empty")
    expires_at = None if args.expires is None else orgs.expiry_after(args.expires)
    db = _existing(args.db)
    try:
        with db.writing():
            known = orgs.find_org(db, args.org)
            org_id = orgs.get_or_create_org(db, args.org)
            key = orgs.create_key(db, org_id, label="cli", scope=args.scope, expires_at=expires_at)
    finally:
        db.close()
    # Which organization and database, on stderr: a server on another --db would not
    # know the key. stdout stays the key alone, for scripts.
    state = "existing" if known is not None else "new"
    print(f"API key for organization {args.org.strip()!r} (id {org_id}, {state}) in database "
          f"{os.path.abspath(args.db)}:", file=sys.stderr)
    print(key)
    return 0


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


KEY_COLUMNS = ("ID", "PREFIX", "SCOPE", "CREATED", "LAST USED", "EXPIRES", "REVOKED", "LABEL")


def _when(stamp: str | None, missing: str) -> str:
    """A stored time shown to the second: `2026-05-01T10:00:00Z`."""
    return missing if stamp is None else stamp[:19] + "Z"


def cmd_keys(args: argparse.Namespace) -> int:
    from store import orgs
    from store.values import utcnow

    db = _existing(args.db)
    try:
        org_id = orgs.find_org(db, args.org)
        if org_id is None:
            fail(f"argument --org: no organization named {args.org!r}")
        keys = orgs.list_keys(db, org_id)
    finally:
        db.close()
    now = utcnow()
    rows = [KEY_COLUMNS]
    for key in keys:
        expires = _when(key["expires_at"], "never")
        if key["expires_at"] is not None and key["expires_at"] <= now:
            expires += " (expired)"
        rows.append((str(key["id"]), key["prefix"], key["scope"], _when(key["created_at"], "-"),
                     _when(key["last_used_at"], "never"), expires, _when(key["revoked_at"], "-"),
                     key["label"] or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(KEY_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def cmd_revoke_key(args: argparse.Namespace) -> int:
    from store import orgs

    db = _existing(args.db)
    try:
        with db.writing():
            revoked = orgs.revoke_key_id(db, args.id)
    finally:
        db.close()
    if revoked is None:
        fail(f"argument id: no API key with id {args.id}")
    what = "was already revoked" if revoked["was_revoked"] else "revoked"
    print(f"key {revoked['id']} ({revoked['prefix']}…, organization {revoked['org']!r}) {what}"
          f" at {_when(revoked['revoked_at'], '-')}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from store.backup import backup
    from store.db import sqlite3

    db = _existing(args.db)
    try:
        if os.path.exists(args.dest) and os.path.samefile(args.dest, args.db):
            fail(f"cannot back up {args.db} onto itself")
        try:
            size = backup(db, args.dest)
        except (OSError, sqlite3.Error) as exc:  # the destination's problem, said in one line
            fail(f"cannot write backup to {args.dest}: {exc}")
    finally:
        db.close()
    print(f"backed up {args.db} to {args.dest} ({_megabytes(size)})")
    return 0


def _progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width if total == 0 else width * done // total
    share = 100 if total == 0 else 100 * done // total
    return f"reindex [{'#' * filled}{'.' * (width - filled)}] {done}/{total} images ({share}%)"


def cmd_reindex(args: argparse.Namespace) -> int:
    from search.pipeline import reindex

    if args.image_model is not None and not os.path.isfile(args.image_model):
        fail(f"argument --image-model: no such file {args.image_model}")
    db = _existing(args.db)
    tty = sys.stderr.isatty()
    shown = -1

    def progress(done: int, total: int) -> None:
        # On a terminal the bar redraws in place; in a log, one line per tenth.
        nonlocal shown
        tenth = 10 if total == 0 else 10 * done // total
        if tty:
            print("\r" + _progress_bar(done, total), end="", file=sys.stderr, flush=True)
        elif tenth != shown:
            print(_progress_bar(done, total), file=sys.stderr, flush=True)
        shown = tenth

    try:
        outcome = reindex(db, ImageModels(args.image_model, args.model_cache), progress)
    finally:
        db.close()
    if tty:
        print(file=sys.stderr)
    print(f"reindexed {outcome.indexed} images ({outcome.skipped} skipped)")
    return 0


class _Progress:
    """A count on stderr: redrawn in place with its rate and time left on a terminal,
    one line per tenth in a log."""

    def __init__(self, label: str, unit: str, total: int | None) -> None:
        self.label, self.unit, self.total = label, unit, total
        self.tty = sys.stderr.isatty()
        self.started = time.monotonic()
        self.shown = -1

    def update(self, done: int) -> None:
        seconds = max(time.monotonic() - self.started, 1e-6)
        rate = done / seconds
        if self.total:
            share = min(100, 100 * done // self.total)
            left = max(0.0, (self.total - done) / rate) if rate else 0.0
            text = (f"{self.label} {done:,}/{self.total:,} {self.unit} ({share}%),"
                    f" {rate:,.0f} {self.unit}/s, {left:,.0f} s left")
            tenth = share // 10
        else:
            text, tenth = f"{self.label} {done:,} {self.unit}, {rate:,.0f} {self.unit}/s", -1
        if self.tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        elif tenth != self.shown:
            print(text, file=sys.stderr, flush=True)
        self.shown = tenth

    def end(self) -> float:
        if self.tty:
            print(file=sys.stderr)
        return time.monotonic() - self.started


def _feed_format(path: str, given: str | None) -> str | None:
    if given:
        return given
    lower = path.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    return None


def _org_id(db: Database, name: str) -> int:
    row = db.execute_sql("SELECT id FROM organization WHERE name = ?", (name,)).fetchone()
    if row is None:
        fail(f"argument --org: no organization named {name!r}")
    return int(row[0])


def cmd_import(args: argparse.Namespace) -> int:
    from handlers import bulk
    from store.errors import BadRequest

    for name in ("dry_run", "create_references", "allow_private_urls"):
        if getattr(args, name) is None:
            setattr(args, name, _flag(name.upper()))
    fmt = _feed_format(args.file, args.format)
    if fmt is None:
        fail(f"argument file: {args.file} is not a .csv, .ndjson or .jsonl file; say which with --format")
    if not os.path.isfile(args.file):
        fail(f"argument file: no such file {args.file}")
    _existing(args.db).close()  # the same refusal as the other commands'
    try:
        app = make_app(Settings(database=args.db, allow_private_urls=args.allow_private_urls))
    except (peewee.PeeweeException, OSError) as exc:
        fail(f"cannot open database {args.db}: {exc}")
    failed: list[bulk.Result] = []
    try:
        org_id = _org_id(app.db, args.org)
        with open(args.file, "rb") as file:
            try:
                feed = bulk.check(file, fmt)
            except BadRequest as exc:
                fail(f"{args.file}: {exc.message}", status=1)
            importer = bulk.Importer(app.db, app.images, org_id, kind=args.kind, dry_run=args.dry_run,
                                     create_references=args.create_references)
            progress = _Progress("import" + (" (dry run)" if args.dry_run else ""), "lines", feed.total_lines)

            def heard(results: list[bulk.Result]) -> None:
                failed.extend(result for result in results if result.status == "failed")
                progress.update(sum(importer.counts.to_api().values()))

            async def run() -> bulk.Counts:
                lines = await app.db.read(importer.lines, feed)
                return await importer.apply(lines, heard)

            try:
                counts = asyncio.run(run())
            except BadRequest as exc:
                fail(f"{args.file}: {exc.message}", status=1)
            seconds = progress.end()
    finally:
        app.close()
    for result in failed:
        print(f"line {result.line}: {result.sku or '-'}: {result.error}", file=sys.stderr)
    total = sum(counts.to_api().values())
    print(f"{'checked' if args.dry_run else 'imported'} {total:,} lines of {args.file}: {counts.created:,} created,"
          f" {counts.updated:,} updated, {counts.unchanged:,} unchanged, {counts.failed:,} failed"
          f" in {seconds:.1f} s ({total / max(seconds, 1e-6):,.0f} lines/s)")
    return 1 if counts.failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from handlers import bulk
    from store import categories
    from store.products.export import export
    from store.products.query import ProductQuery

    fmt = _feed_format(args.file, args.format) or "ndjson"
    db = _existing(args.db)
    to_stdout = args.file == "-"
    try:
        org_id = _org_id(db, args.org)
        try:
            out = sys.stdout if to_stdout else open(args.file + ".partial", "w", encoding="utf-8", newline="")
        except OSError as exc:
            fail(f"cannot write {args.file}: {exc.strerror}")
        progress = _Progress("export", args.kind, None)
        done = 0
        try:
            if args.kind == "categories":
                rows = categories.tree_rows(db, org_id)
                if fmt == "csv":
                    out.write(bulk.csv_text([list(bulk.CATEGORY_COLUMNS)]
                                            + [[row[name] for name in bulk.CATEGORY_COLUMNS] for row in rows]))
                else:
                    out.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
                done = len(rows)
            else:
                layout = bulk.csv_layout(db, org_id) if fmt == "csv" else None
                if layout is not None:
                    out.write(bulk.csv_text([layout.header]))
                for chunk in export(db, org_id, ProductQuery(), with_translations=layout is not None):
                    if layout is not None:
                        out.write(bulk.csv_text([row for item in chunk for row in bulk.csv_rows(layout, item)]))
                    else:
                        out.write("".join(bulk.ndjson_line(item) for item in chunk))
                    done += len(chunk)
                    progress.update(done)
        finally:
            if not to_stdout:
                out.close()
        if not to_stdout:
            os.replace(args.file + ".partial", args.file)
        seconds = progress.end()
    finally:
        db.close()
    print(f"exported {done:,} {args.kind} to {args.file} in {seconds:.1f} s", file=sys.stderr if to_stdout else sys.stdout)
    return 0


#: How often `events --follow` looks for new events.
FOLLOW_EVERY_S = 0.25


def cmd_events(args: argparse.Namespace) -> int:
    from store import events
    from store.errors import BadRequest

    try:
        types = (events.types_of(events.check_patterns("--type", [p.strip() for p in args.type.split(",")]))
                 if args.type else None)
    except BadRequest as exc:
        fail(exc.message)
    follow = _flag("FOLLOW") if args.follow is None else args.follow
    db = _existing(args.db)
    try:
        org_id = _org_id(db, args.org)
        after = args.after
        while True:
            try:
                page = json.loads(events.feed_json(db, org_id, after, events.FEED_LIMIT_MAX, types))
            except events.Expired as gone:
                oldest = "none is kept" if gone.oldest_id is None else f"the oldest kept is {gone.oldest_id}"
                fail(f"--after: the events up to {gone.removed_through} are no longer kept; {oldest}", status=1)
            for event in page["events"]:
                sys.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            sys.stdout.flush()
            if page["events"]:  # else `after` stays: 0 may be older than what is kept
                after = page["next_after"]
            if len(page["events"]) == events.FEED_LIMIT_MAX:
                continue
            if not follow:
                return 0
            time.sleep(FOLLOW_EVERY_S)
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `micropim events … | head`
        return 0
    finally:
        db.close()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `micropim` alone: what it can do, as a usage error
        parser.print_help(sys.stderr)
        return 2
    commands = {"serve": cmd_serve, "create-key": cmd_create_key, "keys": cmd_keys,
                "revoke-key": cmd_revoke_key, "backup": cmd_backup, "reindex": cmd_reindex,
                "import": cmd_import, "export": cmd_export, "events": cmd_events}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
