"""The book as a PDF (WeasyPrint), in the normal or the large-print edition.

WeasyPrint never reaches the network: the fetcher it is given only reads ``file:`` URLs
that point inside the instance's uploads folder or the app's static folder; anything else
(http, https, ftp, a file elsewhere) is refused and simply left out of the page.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from storyteller.book_content import UPLOADS_FOLDER, Book
from storyteller.exports import Progress
from storyteller.exports.html_book import book_html

__all__ = ["LocalFilesOnly", "book_pdf"]

STATIC_FOLDER = Path(__file__).resolve().parents[2] / "static"


class LocalFilesOnly(URLFetcher):
    """A WeasyPrint fetcher that reads files under the given folders and nothing else."""

    def __init__(self, roots: list[Path]) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.roots = [Path(root).resolve() for root in roots]

    def allowed_path(self, url: str) -> Path:
        if not url.startswith("file:"):
            raise ValueError(f"Only local files may be read, not {url[:80]!r}.")
        path = Path(URLFetcherResponse(url).path).resolve()
        if not any(path.is_relative_to(root) for root in self.roots) or not path.is_file():
            raise ValueError(f"{path} is not a file in the uploads or static folder.")
        return path

    def fetch(self, url, headers=None):  # noqa: ARG002 - WeasyPrint's signature
        path = self.allowed_path(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})


def book_pdf(
    book: Book,
    *,
    instance_path: str | Path,
    large_print: bool = False,
    progress: Progress = lambda pct, msg: None,
) -> bytes:
    html = book_html(book, large_print=large_print, image_src="file", progress=progress,
                     start=5, end=25)
    fetcher = LocalFilesOnly([Path(instance_path) / UPLOADS_FOLDER, STATIC_FOLDER])
    progress(30, "Laying out the pages.")
    document = HTML(string=html, base_url=str(STATIC_FOLDER), url_fetcher=fetcher).render()
    progress(85, f"Writing {len(document.pages)} pages.")
    return document.write_pdf()
