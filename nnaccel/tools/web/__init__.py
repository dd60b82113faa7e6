"""The static page of ``nnaccel serve`` (package data: index.html, app.js, style.css)."""
