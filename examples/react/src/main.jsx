import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

import { App } from './App.jsx';
import { optionsFromURL } from '../../shared/room-options.js';
import './app.css';

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App options={optionsFromURL('peerset-react')} />
  </StrictMode>,
);
