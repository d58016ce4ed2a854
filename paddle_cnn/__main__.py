from paddle_cnn.cli import main

raise SystemExit(main())
