from wsvol.cli.main import main

raise SystemExit(main())
