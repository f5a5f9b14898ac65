from conceptvae.cli.main import main

main()
