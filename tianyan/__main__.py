from tianyan.cli.main import app

app()
