from shopstream.cli import app

app()
